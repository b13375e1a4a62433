"""Forked helper processes that can neither hang nor outlive the task that started them.

An import forks children to read workbooks (core.tables.workbooks) and to validate numbers on
every core (``Workers``, used by core.phones). Inside a Celery worker a forked child
inherits the worker's signal handlers: billiard's turns SIGTERM into a SystemExit wherever the
child happens to be, the worker's own warm-shutdown handler merely sets a flag and carries on.
So:

* ``fork`` blocks signals across the fork, and the child puts every handler back to the
  default before it lets a signal in;
* a child is stopped with SIGKILL and reaped (``stop``), never asked politely and waited for;
* every wait on a child has a bound, and while it waits it calls the check installed with
  ``interruptible`` at least once a second, which may raise to abandon the wait (the import's
  Cancel does);
* a child that dies or stops answering is reported as ``ChildLost``, never waited on forever.

The children talk over plain pipes of their own, one pair each, with no lock shared between
processes: nothing a dying child leaves behind can block the others or the parent.
"""

from __future__ import annotations

import gc
import os
import pickle
import select
import signal
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from queue import SimpleQueue

_check: ContextVar[Callable[[], None] | None] = ContextVar("check", default=None)
_SLICE = 1.0  # seconds: the longest a wait goes without calling the check


class ChildLost(Exception):
    """A helper process died or stopped answering. The message says which, in plain words
    ("a helper process ended unexpectedly (signal 9)")."""


@contextmanager
def interruptible(check: Callable[[], None]) -> Iterator[None]:
    """While inside, every wait on a child calls ``check`` at least once a second; whatever it
    raises ends the wait (the child is stopped by its owner's cleanup)."""
    token = _check.set(check)
    try:
        yield
    finally:
        _check.reset(token)


def wait(ready: Callable[[float], bool], seconds: float) -> bool:
    """Whether ``ready(timeout)`` turned true within ``seconds``, asking it at most a second at a
    time and calling the current check in between."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if ready(max(min(left, _SLICE), 0)):
            return True
        if left <= _SLICE:
            return False
        if (check := _check.get()) is not None:
            check()


def fork() -> int:
    """os.fork with the signal handlers of a Celery worker (or any other) left behind: in the
    child (0 returned) every signal has its default action before any can arrive."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    try:
        pid = os.fork()
        if pid == 0:
            for number in signal.valid_signals():
                if number == signal.SIGTERM or callable(signal.getsignal(number)):
                    with suppress(OSError, ValueError):
                        signal.signal(number, signal.SIG_DFL)
        return pid
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def stop(pid: int) -> None:
    """Kills a child with SIGKILL (if it still runs) and reaps it: bounded, whatever the child
    does with signals."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0]:
            return
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except ChildProcessError:  # reaped by someone else (a SIGCHLD handler): not ours to kill
        pass


def exit_status(pid: int, seconds: float = 0) -> str:
    """How a child ended, for a message: "signal 9", "exit code 1" or "still running" (after
    waiting up to ``seconds`` for it to end: its pipes close a moment before it is gone)."""
    deadline = time.monotonic() + seconds
    try:
        while not (ended := os.waitpid(pid, os.WNOHANG))[0] and time.monotonic() < deadline:
            time.sleep(0.01)
    except ChildProcessError:
        return "unknown"
    done, status = ended
    if not done:
        return "still running"
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


class Workers:
    """``count`` forked children that each run ``work(chunk)`` on the chunks given to
    ``submit``, in turn. ``submit`` returns a Reply whose ``get`` is the result; replies must be
    collected in the order the chunks were submitted. A child silent for ``stall_seconds``
    while owing a result, or one that dies, raises ChildLost. ``close`` stops them all."""

    def __init__(self, count: int, work: Callable, *, stall_seconds: float):
        self.stall_seconds = stall_seconds
        self._children: list[_Child] = []
        self._turn = 0
        try:
            for _ in range(count):
                self._children.append(_Child(work, self._children))
        except BaseException:
            self.close()
            raise
        self._stop = weakref.finalize(self, _stop_all, list(self._children))

    @property
    def pids(self) -> list[int]:
        return [child.pid for child in self._children]

    def submit(self, chunk) -> Reply:
        child = self._children[self._turn % len(self._children)]
        self._turn += 1
        _send(child, pickle.dumps(chunk, pickle.HIGHEST_PROTOCOL), self.stall_seconds)
        return Reply(child, self.stall_seconds)

    def close(self) -> None:
        """Stops and reaps every child; a second call does nothing."""
        _stop_all(self._children)
        self._children = []


class Reply:
    def __init__(self, child: _Child, stall_seconds: float):
        self._child, self._stall_seconds = child, stall_seconds

    def get(self):
        return pickle.loads(_receive(self._child, self._stall_seconds))


class Done:
    """An answer computed in this process, with the interface of Reply (a batch too small
    for the children)."""

    def __init__(self, value):
        self._value = value

    def get(self):
        return self._value


class _Child:
    """One forked child with a pipe for chunks and one for results (the parent's ends
    non-blocking, so that no read or write of the parent's can outlast a bound)."""

    def __init__(self, work: Callable, siblings: list[_Child]):
        chunks_read, self.chunks = os.pipe()
        self.results, results_written = os.pipe()
        self.pid = fork()
        if self.pid == 0:
            for sibling in siblings:  # nothing of theirs may keep their pipes open
                sibling.close_pipes()
            os.close(self.chunks)
            os.close(self.results)
            _serve(work, chunks_read, results_written)
        os.close(chunks_read)
        os.close(results_written)
        os.set_blocking(self.chunks, False)
        os.set_blocking(self.results, False)

    def close_pipes(self) -> None:
        for fd in (self.chunks, self.results):
            with suppress(OSError):
                os.close(fd)


def _stop_all(children: list[_Child]) -> None:
    for child in children:
        child.close_pipes()
        stop(child.pid)


def _lost(child: _Child, what: str, *, ended: bool = False) -> ChildLost:
    return ChildLost(f"a helper process {what} ({exit_status(child.pid, 1 if ended else 0)})")


def _send(child: _Child, payload: bytes, stall_seconds: float) -> None:
    data = memoryview(len(payload).to_bytes(8, "big") + payload)
    while data:
        writable = wait(lambda t: bool(select.select([], [child.chunks], [], t)[1]), stall_seconds)
        if not writable:
            raise _lost(child, f"gave no answer for {stall_seconds:g} seconds")
        try:
            data = data[os.write(child.chunks, data) :]
        except BlockingIOError:
            continue
        except OSError as error:  # EPIPE: the child is gone
            raise _lost(child, "ended unexpectedly", ended=True) from error


def _receive(child: _Child, stall_seconds: float) -> bytes:
    header = _read(child, 8, stall_seconds)
    return _read(child, int.from_bytes(header, "big"), stall_seconds)


def _read(child: _Child, size: int, stall_seconds: float) -> bytes:
    parts, missing = [], size
    while missing:
        readable = wait(lambda t: bool(select.select([child.results], [], [], t)[0]), stall_seconds)
        if not readable:
            raise _lost(child, f"gave no answer for {stall_seconds:g} seconds")
        try:
            part = os.read(child.results, min(missing, 1 << 20))
        except BlockingIOError:
            continue
        if not part:
            raise _lost(child, "ended unexpectedly", ended=True)
        parts.append(part)
        missing -= len(part)
    return b"".join(parts)


def _serve(work: Callable, chunks: int, results: int) -> None:
    """In the child: a thread takes chunks off the pipe as they come (so the parent never
    blocks writing while this process writes a result), the main thread works through them.
    Leaves with os._exit at the end of input or on any error, never returning into the
    parent's code."""
    try:
        # Objects inherited from the parent are never collected here: a finaliser run in the
        # child could close the parent's database connection under it.
        gc.freeze()
        inbox: SimpleQueue = SimpleQueue()
        threading.Thread(target=_take_chunks, args=(chunks, inbox), daemon=True).start()
        while (chunk := inbox.get()) is not None:
            payload = pickle.dumps(work(pickle.loads(chunk)), pickle.HIGHEST_PROTOCOL)
            _write_all(results, len(payload).to_bytes(8, "big") + payload)
    finally:
        os._exit(0)


def _take_chunks(chunks: int, inbox: SimpleQueue) -> None:
    try:
        with os.fdopen(chunks, "rb") as pipe:
            while header := pipe.read(8):
                inbox.put(pipe.read(int.from_bytes(header, "big")))
    finally:
        inbox.put(None)  # the parent closed its end, or went away


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
