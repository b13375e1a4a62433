"""The embedded broker: Celery's queue in an SQLite file under var/, for a laptop with no Redis.

kombu's SQLAlchemy transport keeps each message in a table row, so a reader sees a message
whole or not at all. (Its filesystem transport, the embedded broker before, let a worker read a
file that beat had not finished writing, and the worker died of the JSONDecodeError: issue #13.)
This subclass fits that transport to one SQLite file shared by the web process, the worker, its
prefork children and beat:

- WAL, so a reader never waits for a writer, and a busy timeout, so a writer waits its turn
  instead of failing with "database is locked";
- no connection pool: a prefork child never reuses an SQLite connection opened by its parent,
  which SQLite forbids (Celery's own database result backend does the same after a fork);
  opening an SQLite file costs a fraction of a millisecond;
- a message is deleted in the one statement that takes it, where kombu keeps every delivered
  message as an invisible row for ever, so the file and the search for the next message stay
  small on a laptop left running.

Settings select it with ``CELERY_BROKER_TRANSPORT = "crier.broker:Transport"`` and an
``sqlite:///path`` broker URL. Production uses Redis or RabbitMQ instead.
"""

from __future__ import annotations

import warnings
from queue import Empty

from kombu.transport import sqlalchemy as kombu_sqlalchemy
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads
from sqlalchemy import create_engine, delete, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SADeprecationWarning
from sqlalchemy.pool import NullPool

# How long a process waits for another one's write before giving up ("database is locked").
BUSY_TIMEOUT_SECONDS = 30

# kombu's Queue model declares its messages relationship "noload", which SQLAlchemy 2.1
# deprecates; kombu never loads it, so the warning would only worry whoever reads the worker log.
warnings.filterwarnings("ignore", r"The ``noload`` loader strategy", SADeprecationWarning)


def _use_wal(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA journal_mode=WAL")  # a no-op once the file is in WAL


class Channel(kombu_sqlalchemy.Channel):
    def _engine_from_config(self) -> Engine:
        engine = create_engine(
            self.connection.client.hostname,
            poolclass=NullPool,
            connect_args={"timeout": BUSY_TIMEOUT_SECONDS},
        )
        event.listen(engine, "connect", _use_wal)
        # Processes starting together would race to create the tables ("table already
        # exists"); under the write lock the second one finds them made.
        with engine.connect() as connection:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            kombu_sqlalchemy.metadata.create_all(connection)
            connection.commit()
        return engine

    def _get_or_create(self, queue: str):
        try:
            return super()._get_or_create(queue)
        except IntegrityError:  # another process created the queue meanwhile
            self.session.rollback()
            return super()._get_or_create(queue)

    def _get(self, queue: str) -> dict:
        """Take the oldest message of ``queue`` (raises ``queue.Empty``), deleting it."""
        messages = self.message_cls.__table__
        oldest = (
            select(messages.c.id)
            .where(messages.c.queue_id == self._get_or_create(queue).id)
            .order_by(messages.c.id)
            .limit(1)
            .scalar_subquery()
        )
        try:
            payload = self.session.execute(
                delete(messages).where(messages.c.id == oldest).returning(messages.c.payload)
            ).scalar()
            self.session.commit()
        except Exception:
            self.session.rollback()
            raise
        if payload is None:
            raise Empty()
        return loads(bytes_to_str(payload))


class Transport(kombu_sqlalchemy.Transport):
    Channel = Channel
