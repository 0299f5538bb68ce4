"""A running job's handle on its own record: progress, messages, cancellation, signals.

Engine-agnostic: an engine (``job_status.contrib.celery``) opens a handle when
an attempt starts and closes it when the attempt ends; the job's code reaches
it through :func:`current_job` (or ``self.job`` on a bound tracked task).

Every write here is guarded like the recorder's: a database error is retried
once on a fresh connection and then logged, never raised into the job.
"""

from __future__ import annotations

import logging
import math
import numbers
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.db import DatabaseError
from django.db.models import Exists, OuterRef
from django.utils import timezone

from job_status.conf import app_settings
from job_status.models import JobMessage, JobSignal, JobStatus
from job_status.recording import Outcome, guarded_write, status_db
from job_status.statuses import NOT_FINISHED
from job_status.text import storable_text

logger = logging.getLogger("job_status")

SignalHandler = Callable[[dict[str, Any]], object]


class JobCancelled(Exception):
    """Raised inside a job by :meth:`JobHandle.check` once a cancel was requested.

    Let it propagate: the tracked task ends the job ``cancelled`` (not failed).
    """


def parse_level(level: str) -> str:
    try:
        return JobMessage.Level(level).value
    except ValueError:
        choices = ", ".join(repr(choice.value) for choice in JobMessage.Level)
        raise ValueError(f"Unknown message level {level!r}; expected one of {choices}.") from None


class JobHandle:
    """What a running job can do to its own record."""

    def __init__(self, task_id: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.task_id = task_id
        self._clock = clock
        self._pending: tuple[float, int | None, int | None] | None = None
        self._last_progress_write = -math.inf
        self._last_poll = -math.inf
        self._cancel_requested = False
        self._signal_handlers: dict[str, SignalHandler] = {}
        self._cleanups: list[Callable[[], object]] = []

    # -- progress ------------------------------------------------------------

    def set_progress(
        self, percent: float | None = None, *, current: int | None = None, total: int | None = None
    ) -> None:
        """Report progress as a percentage, or as ``current`` out of ``total``.

        Writes at most once per ``JOB_STATUS_PROGRESS_INTERVAL`` (1 s); the last
        value is written when the job ends, and a success writes 100.
        """
        if percent is None:
            if current is None or total is None:
                raise TypeError("set_progress() takes a percentage, or both current= and total=.")
            for count in (current, total):
                if isinstance(count, bool) or not isinstance(count, int):
                    raise TypeError(f"Progress counts are integers, got {count!r}.")
                if abs(count) >= 2**63:
                    raise ValueError(f"Progress count {count} is too large to store.")
            if total <= 0 or current < 0 or current > total:
                raise ValueError(
                    f"Progress {current}/{total} is not a valid fraction (0 <= current <= total)."
                )
            percent = 100.0 * current / total
        elif current is not None or total is not None:
            raise TypeError("set_progress() takes a percentage or current=/total=, not both.")
        elif isinstance(percent, bool) or not isinstance(percent, numbers.Real):
            raise TypeError(f"Progress is a number from 0 to 100, got {percent!r}.")
        percent = float(percent)
        if not 0.0 <= percent <= 100.0:  # also refuses NaN
            raise ValueError(f"Progress must be between 0 and 100, got {percent!r}.")
        self._pending = (percent, current, total)
        if self._clock() - self._last_progress_write >= app_settings.PROGRESS_INTERVAL:
            self.flush()

    def flush(self) -> None:
        """Write the latest progress now, if any is waiting."""
        if self._pending is None:
            return
        percent, current, total = self._pending
        self._pending = None
        self._last_progress_write = self._clock()

        def write() -> Outcome:
            # Only while the job is not finished: a late write (a thread the job
            # left behind) must not change a finished record.
            rows = JobStatus.objects.using(status_db()).filter(
                task_id=self.task_id, status__in=NOT_FINISHED
            )
            rows.update(progress=percent, progress_current=current, progress_total=total)
            return Outcome.UPDATED

        guarded_write(self.task_id, "progress", write)

    # -- messages -------------------------------------------------------------

    def message(self, text: str, level: str = "info") -> None:
        """Add a message with a level: debug, info, success, warning or error."""
        level = parse_level(level)
        at = timezone.now()

        def write() -> Outcome:
            JobMessage.objects.using(status_db()).create(
                job_status_id=self.task_id,
                level=level,
                text=storable_text(str(text)),
                created_at=at,
            )
            return Outcome.CREATED

        guarded_write(self.task_id, "a message", write)

    def debug(self, text: str) -> None:
        self.message(text, "debug")

    def info(self, text: str) -> None:
        self.message(text, "info")

    def success(self, text: str) -> None:
        self.message(text, "success")

    def warning(self, text: str) -> None:
        self.message(text, "warning")

    def error(self, text: str) -> None:
        self.message(text, "error")

    # -- cancelling and signals ---------------------------------------------------

    def on_cancel(self, cleanup: Callable[[], object]) -> Callable[[], object]:
        """Register a clean-up to run when :meth:`check` stops the job; usable as a decorator."""
        self._cleanups.append(cleanup)
        return cleanup

    def on_signal(self, name: str, handler: SignalHandler | None = None) -> Any:
        """Handle the custom signal ``name``: ``handler(parameters)`` runs when the job checks.

        Usable as ``job.on_signal("pause", handler)`` or as a decorator.
        """
        if handler is None:
            return lambda function: self.on_signal(name, function)
        self._signal_handlers[name] = handler
        return handler

    def should_cancel(self) -> bool:
        """Whether a cancel was requested. Cheap: the flag is re-read from the
        database at most once per ``JOB_STATUS_CANCEL_POLL_INTERVAL``, and pending
        signals are handled on the same read."""
        if not self._cancel_requested and (
            self._clock() - self._last_poll >= app_settings.CANCEL_POLL_INTERVAL
        ):
            self._poll()
        if self._pending is not None and (
            self._clock() - self._last_progress_write >= app_settings.PROGRESS_INTERVAL
        ):
            self.flush()
        return self._cancel_requested

    def check(self) -> None:
        """Handle pending signals, and stop the job if a cancel was requested:
        run the clean-ups, then raise :class:`JobCancelled`."""
        if self.should_cancel():
            for cleanup in self._cleanups:
                cleanup()
            raise JobCancelled(f"Job {self.task_id} was cancelled.")

    def _poll(self) -> None:
        self._last_poll = self._clock()
        pending = JobSignal.objects.using(status_db()).filter(
            job_status_id=OuterRef("task_id"), handled_at=None
        )
        try:
            row = (
                JobStatus.objects.using(status_db())
                .filter(task_id=self.task_id)
                .annotate(has_signals=Exists(pending))
                .values("cancel_requested_at", "has_signals")
                .first()
            )
        except DatabaseError:
            # A failed read must not stop the job; it will read again next period.
            logger.exception("job_status: could not read the cancel flag of task %s", self.task_id)
            return
        if row is None:
            return
        self._cancel_requested = row["cancel_requested_at"] is not None
        if row["has_signals"]:
            self._handle_signals()

    def _handle_signals(self) -> None:
        for signal in JobSignal.objects.using(status_db()).filter(
            job_status__task_id=self.task_id, handled_at=None
        ):
            # Claim it first, so a signal is handled once even if two checks race.
            claimed = (
                JobSignal.objects.using(status_db())
                .filter(pk=signal.pk, handled_at=None)
                .update(handled_at=timezone.now())
            )
            if not claimed:
                continue
            handler = self._signal_handlers.get(signal.name)
            if handler is None:
                logger.warning(
                    "job_status: task %s got the signal %r but has no handler for it",
                    self.task_id,
                    signal.name,
                )
                continue
            handler(dict(signal.parameters))


_current: ContextVar[list[JobHandle] | None] = ContextVar("job_status_current", default=None)


def current_job() -> JobHandle:
    """The handle of the tracked job running in this context.

    Raises ``LookupError`` outside a tracked job, so a misplaced call is not
    silently lost.
    """
    stack = _current.get()
    if not stack:
        raise LookupError("current_job() was called outside a running tracked job.")
    return stack[-1]


def open_handle(task_id: str) -> JobHandle:
    """Make ``task_id`` the current job (engines call this when an attempt starts)."""
    handle = JobHandle(task_id)
    stack = _current.get()
    _current.set([*(stack or []), handle])
    return handle


def flush(task_id: str) -> None:
    """Write the pending progress of ``task_id``, if it is the current job; engines call
    this before recording how an attempt ended, so that the ending has the last word."""
    stack = _current.get()
    if stack and stack[-1].task_id == task_id:
        stack[-1].flush()


def close_handle(task_id: str) -> None:
    """Write what is pending and forget the handle (engines call this when an attempt ends)."""
    stack = _current.get()
    if stack and stack[-1].task_id == task_id:
        stack[-1].flush()
        _current.set(stack[:-1])
