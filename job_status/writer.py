"""A worker process's status writes, on a thread of their own.

Celery's Django fix-up closes every database connection of a pool process
before and after each job, so a status write made on the job's own thread
opens a new connection for every job, and that costs more than the SQL (see
``docs/performance.md``). Django's connections belong to the thread that
opened them: a thread of our own keeps one connection for the life of the
process, out of the fix-up's reach. It also lets a finished job's last write
go on while the process already runs the next job.

The writer runs only where an engine starts it (Celery starts it in each pool
process). Everywhere else, and in a process forked from one that started it,
writes run inline on the caller's thread, as if there were no writer.
Writes keep the order in which they were handed over.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from django.db import connections

logger = logging.getLogger("job_status")

T = TypeVar("T")

_Item = tuple[Callable[[], object], "Future[object] | None"]


class StatusWriter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._stopping = False

    @property
    def running(self) -> bool:
        # A forked child inherits the attribute, not the thread: the pid tells.
        thread = self._thread
        return (
            thread is not None
            and not self._stopping
            and self._pid == os.getpid()
            and thread.is_alive()
        )

    def _inline(self, inline: bool) -> bool:
        # On the writer's own thread, waiting for the writer would wait forever.
        return inline or not self.running or threading.current_thread() is self._thread

    def start(self) -> None:
        """Start the thread (once per process)."""
        with self._lock:
            if self.running:
                return
            self._queue = queue.SimpleQueue()
            self._pid = os.getpid()
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="job_status-writer", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is waiting, then end the thread and close its connections."""
        with self._lock:
            if not self.running:
                return
            thread = self._thread
            # From now on writes run inline, even if the thread outlives the timeout.
            self._stopping = True
            self._queue.put(None)
        assert thread is not None
        thread.join(timeout)
        if thread.is_alive():
            logger.warning("job_status: the status writer did not finish within %s s", timeout)

    def submit(self, write: Callable[[], object], *, inline: bool = False) -> None:
        """Run ``write`` on the writer thread, without waiting for it; here and now
        if ``inline`` (or if the writer does not run)."""
        if self._inline(inline):
            self._run_logged(write)
            return
        self._queue.put((write, None))

    def call(self, write: Callable[[], T], *, inline: bool = False) -> T:
        """Run ``write`` on the writer thread, after everything handed over before
        it, and return its result (or raise its exception); here and now if
        ``inline`` (or if the writer does not run)."""
        if self._inline(inline):
            return write()
        future: Future[object] = Future()
        self._queue.put((write, future))
        return future.result()  # type: ignore[return-value]

    def flush(self) -> None:
        """Wait until everything handed over so far is written."""
        self.call(lambda: None)

    def _run(self) -> None:
        try:
            while (item := self._queue.get()) is not None:
                self._run_item(item)
            # Handed over while stop() was under way: written all the same.
            while True:
                try:
                    late = self._queue.get_nowait()
                except queue.Empty:
                    break
                if late is not None:
                    self._run_item(late)
        finally:
            connections.close_all()

    def _run_item(self, item: _Item) -> None:
        write, future = item
        if future is None:
            try:
                write()
            except BaseException:  # nothing may end the thread: what waits would be lost
                logger.exception("job_status: a status write failed")
            return
        try:
            result = write()
        except BaseException as exc:  # handed back to the caller
            future.set_exception(exc)
        else:
            future.set_result(result)

    @staticmethod
    def _run_logged(write: Callable[[], object]) -> None:
        # Writes are guarded (they log and swallow database errors); anything
        # else is a bug, and must not reach the job.
        try:
            write()
        except Exception:
            logger.exception("job_status: a status write failed")


writer = StatusWriter()
