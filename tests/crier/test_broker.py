"""The embedded broker (crier/broker.py): SQLite shared by several processes."""

from __future__ import annotations

import multiprocessing
import sqlite3

import pytest
from kombu import Connection

PUBLISHERS = 3
EACH = 50
BODY = "x" * 64 * 1024  # big enough that a torn write would show


def connect(path) -> Connection:
    return Connection(f"sqlite:///{path}", transport="crier.broker:Transport")


def publish(path, publisher: int) -> None:
    with connect(path) as connection, connection.SimpleQueue("jobs") as queue:
        for n in range(EACH):
            queue.put({"publisher": publisher, "n": n, "body": BODY})


def take_all(path, count: int) -> list[dict]:
    taken = []
    with connect(path) as connection, connection.SimpleQueue("jobs") as queue:
        while len(taken) < count:
            message = queue.get(timeout=30)
            message.ack()
            taken.append(message.payload)
    return taken


@pytest.fixture
def broker(tmp_path):
    return tmp_path / "broker.sqlite3"


def test_concurrent_publishers_deliver_every_message_whole_once_and_in_order(broker):
    fork = multiprocessing.get_context("fork")
    publishers = [fork.Process(target=publish, args=(broker, p)) for p in range(PUBLISHERS)]
    for process in publishers:
        process.start()
    taken = take_all(broker, PUBLISHERS * EACH)
    for process in publishers:
        process.join(timeout=30)
        assert process.exitcode == 0

    assert all(message["body"] == BODY for message in taken)
    assert sorted((m["publisher"], m["n"]) for m in taken) == [
        (p, n) for p in range(PUBLISHERS) for n in range(EACH)
    ]
    for p in range(PUBLISHERS):
        assert [m["n"] for m in taken if m["publisher"] == p] == list(range(EACH))


def test_a_taken_message_leaves_the_file(broker):
    publish(broker, 0)
    take_all(broker, EACH)

    with sqlite3.connect(broker) as db:
        assert db.execute("SELECT count(*) FROM kombu_message").fetchone() == (0,)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
