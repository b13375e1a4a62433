"""What every import of a table into the database shares, whatever it fills (a campaign's
recipients in campaigns.recipients.imports, the contact book in contacts.importing): the
states of a run, reading the upload with the user's options, progress reports with a sign of
life, cancelling, failing the runs a dead worker left, and the report's rows.

An import model has the fields these read: ``options``, ``file``, ``filename``,
``pasted_text``, ``status`` (ImportStatus), ``cancel_requested``, ``error``, ``rows_done``,
``rows_total``, ``accepted``, ``rejected``, ``started_at``, ``heartbeat_at`` and
``finished_at``.
"""

from __future__ import annotations

import io
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from core.rejections import RejectedRow, write_rejections_csv
from core.tables import workbooks
from core.tables.reader import open_table, read_pasted
from core.tables.table import ReadOptions, Table

logger = logging.getLogger(__name__)


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", "Waiting for the column mapping"  # read far enough to preview
    QUEUED = "queued", "Queued"  # the user confirmed; a worker will pick it up
    RUNNING = "running", "Importing"  # a worker is reading, checking and storing rows
    DONE = "done", "Done"  # the rows were stored
    FAILED = "failed", "Failed"  # nothing was changed; ``error`` says why
    CANCELLED = "cancelled", "Cancelled"  # stopped by the user; nothing was changed


FINISHED = {ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.CANCELLED}

ABANDONED = (
    "The worker running this import stopped before it finished (it was restarted or "
    "crashed). Nothing was changed; start the import again."
)


class Cancelled(Exception):
    """The user asked the running import to stop."""


def read_options(imp) -> ReadOptions:
    """The reader options of an import: the user's choices within the configured caps."""
    chosen = imp.options or {}
    return ReadOptions(
        encoding=chosen.get("encoding") or None,
        delimiter=chosen.get("delimiter") or None,
        quotechar=chosen.get("quotechar") or '"',
        has_header=chosen.get("has_header"),
        sheet=chosen.get("sheet") or None,
        max_rows=settings.CRIER_IMPORT_MAX_ROWS,
        max_columns=settings.CRIER_IMPORT_MAX_COLUMNS,
        max_bytes=settings.CRIER_IMPORT_MAX_BYTES,
    )


def open_upload(imp) -> Table:
    """The import's file or pasted text as a table, read with its options."""
    if imp.file:
        return open_table(imp.file.path, filename=imp.filename, options=read_options(imp))
    return read_pasted(imp.pasted_text, read_options(imp))


def sheet_names(imp) -> list[str]:
    """The sheets of an uploaded workbook (read after the guards of creating it passed)."""
    if not imp.file or not imp.filename.lower().endswith((".xlsx", ".xls")):
        return []
    return workbooks.sheet_names(imp.file.path)


def estimate_rows(imp) -> int | None:
    """About how many rows the import has, for the progress bar: lines of a text file."""
    if not imp.file:
        return imp.pasted_text.count("\n") + 1
    if not imp.filename.lower().endswith((".csv", ".txt")):
        return None
    with open(imp.file.path, "rb") as f:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    header = (imp.options or {}).get("detected", {}).get("has_header")
    return max(lines - (1 if header else 0), 0) or None


def report_rows(rows: list[RejectedRow]) -> str:
    """A batch's rejected rows as report text: one write per batch, as a text file written
    row by row pays for every write."""
    buffer = io.StringIO(newline="")
    write_rejections_csv(rows, buffer, header=False)
    return buffer.getvalue()


def cancel(imp) -> None:
    """Asks a queued or running import to stop; what it fills stays as it was. A running
    import stops within about a second; one whose worker died is cancelled now."""
    model, now = type(imp), timezone.now()
    model.objects.filter(pk=imp.pk, status__in=[ImportStatus.UPLOADED, ImportStatus.QUEUED]).update(
        status=ImportStatus.CANCELLED, finished_at=now
    )
    abandoned(model, now).filter(pk=imp.pk).update(status=ImportStatus.CANCELLED, finished_at=now)
    model.objects.filter(pk=imp.pk, status=ImportStatus.RUNNING).update(cancel_requested=True)


def fail_abandoned(model, finished=None) -> int:
    """Fails ``model``'s running imports whose worker died: silent for
    CRIER_IMPORT_STALE_SECONDS. Returns how many. Safe to run anywhere, any number of times:
    an import that finishes meanwhile is left alone (storing claims only a running import).
    ``finished(imp)`` is called for each one failed, inside the transaction that fails it."""
    now, failed = timezone.now(), 0
    for pk in list(abandoned(model, now).values_list("pk", flat=True)):
        # One transaction each: an import whose ``finished`` fails stays for the next run,
        # and does not keep the others running.
        try:
            with transaction.atomic():
                if (
                    not abandoned(model, now)
                    .filter(pk=pk)
                    .update(status=ImportStatus.FAILED, error=ABANDONED, finished_at=now)
                ):
                    continue  # it finished meanwhile
                if finished is not None:
                    finished(model.objects.get(pk=pk))
        except Exception:
            logger.exception("Could not fail the abandoned import %s; the next run tries again", pk)
            continue
        failed += 1
    return failed


def abandoned(model, now):
    silent_since = now - timedelta(seconds=settings.CRIER_IMPORT_STALE_SECONDS)
    # started_at for an import started before heartbeats were recorded
    silent = Q(heartbeat_at__lt=silent_since) | Q(heartbeat_at=None, started_at__lt=silent_since)
    return model.objects.filter(silent, status=ImportStatus.RUNNING)


def finish(imp, status: str, error: str, finished=None) -> None:
    """Ends a running import as ``status`` with ``error``; ``finished(imp)`` is called inside
    the same transaction when it did (an import failed meanwhile by fail_abandoned keeps its
    reason, and is not finished twice)."""
    with transaction.atomic():
        ended = (
            type(imp)
            .objects.filter(pk=imp.pk, status=ImportStatus.RUNNING)
            .update(status=status, error=error, finished_at=timezone.now())
        )
        if ended and finished is not None:
            imp.refresh_from_db()
            finished(imp)


class Progress:
    """Rows done, accepted and rejected, written after each batch for the page that polls
    them, with a sign of life; raises Cancelled once the user asked to stop. ``check`` does
    the same between batches, for the waits on helper processes. ``elsewhere`` writes through
    a second connection: the import's own is then inside a transaction nobody else sees into.

    ``tally`` is anything with ``done``, ``total``, ``accepted`` and ``rejected``."""

    def __init__(self, imp, *, elsewhere: bool = False):
        self.imp = imp
        self._connection = connection.copy() if elsewhere else None
        self._checked = time.monotonic()

    def __call__(self, tally) -> None:
        self._write(
            {
                "rows_done": tally.done,
                "rows_total": tally.total,
                "accepted": tally.accepted,
                "rejected": tally.rejected,
            }
        )

    def check(self) -> None:
        """Called by every wait on a helper process (children.interruptible); writes at most
        once a second."""
        if time.monotonic() - self._checked >= 1:
            self._write({})

    def _write(self, values: dict) -> None:
        self._checked = time.monotonic()
        values["heartbeat_at"] = timezone.now()
        model = type(self.imp)
        if self._connection is None:
            model.objects.filter(pk=self.imp.pk).update(**values)
            if model.objects.filter(pk=self.imp.pk, cancel_requested=True).exists():
                raise Cancelled
        # Through the other connection, the import's own need not wait for the COPY under way.
        elif _update_through(self._connection, model, self.imp.pk, values):
            raise Cancelled

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        if self._connection is not None:
            self._connection.close()


def _update_through(other, model, pk: int, values: dict) -> bool:
    """UPDATE one import's ``values`` through the ``other`` connection (autocommit); returns
    whether its cancellation was requested."""
    meta = model._meta
    names = ", ".join(f"{other.ops.quote_name(meta.get_field(f).column)} = %s" for f in values)
    with other.cursor() as cursor:
        cursor.execute(
            f"UPDATE {other.ops.quote_name(meta.db_table)} SET {names} WHERE id = %s "
            "RETURNING cancel_requested",
            [*values.values(), pk],
        )
        row = cursor.fetchone()
    return bool(row and row[0])
