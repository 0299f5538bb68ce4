"""Celery signal handlers: translate what Celery reports into recorder events.

Which process runs what: the publisher runs the publish
handler; the pool child runs prerun, postrun, success, failure and retry; the
worker's main process runs revoked, unknown, rejected and some failures (lost
worker, hard time limit). The handlers stay thin: deciding what an event may
overwrite is the job of ``job_status.statuses`` and ``job_status.recording``.
"""

from __future__ import annotations

import logging
import traceback as traceback_module
from collections.abc import Callable
from typing import Any

from billiard.exceptions import WorkerLostError
from celery import current_app, signals
from celery.exceptions import Reject, TimeLimitExceeded
from celery.utils.dispatch import Signal
from celery.utils.serialization import UnpickleableExceptionWrapper
from django.db import close_old_connections, transaction
from django.utils import timezone

from job_status import dispatcher, running
from job_status.conf import app_settings
from job_status.contrib.celery import headers as tracking
from job_status.contrib.celery.info import is_tracked, job_info, worker_info, worker_tracks
from job_status.models import JobStatus
from job_status.recording import (
    Failure,
    JobInfo,
    Outcome,
    record,
    record_dispatch,
    record_retrying,
    status_db,
)
from job_status.statuses import Status, Transition
from job_status.writer import writer

logger = logging.getLogger("job_status")

# Set on the request by prerun when the job was cancelled before it started:
# the tracked task then skips its body.
SKIP_BODY = "job_status_cancelled_before_start"
# Set on the request by the tracked task when its body raised: the exception as
# raised, before Celery may wrap it (an exception that cannot be pickled loses
# its type and its chained causes on the way to the failure signal).
FAILURE = "job_status_failure"
# Set on the request by prerun: undoes, at postrun, the job's dispatcher as the
# dispatcher of what the job dispatches.
DISPATCHER = "job_status_dispatcher_token"
# Set on the request by the tracked task's retry(): when the attempt failed,
# which is before Celery publishes the next attempt.
RETRY_AT = "job_status_retry_at"


def writes_inline(request: Any) -> bool:
    """Whether a job's writes must be made on its own thread, not the status writer's.

    A task run in place (eagerly, perhaps inside another job) or under an open
    transaction of this thread: the writer could wait on a lock this thread
    holds, while this thread waits on the writer.
    """
    if getattr(request, "is_eager", False):
        return True
    return bool(transaction.get_connection(status_db()).in_atomic_block)


def _attempt(request: Any) -> int:
    return int(getattr(request, "retries", 0) or 0) + 1


def _safe_text(render: Callable[[], str], kind: type) -> str:
    try:
        return render()
    except Exception:  # the exception's own __str__ failed: never let that mask it
        return f"<{kind.__qualname__}: its message could not be rendered>"


def failure_as_raised(exception: BaseException) -> Failure:
    """The exception's dotted type, message and full traceback, chained causes included."""
    kind = type(exception)
    return Failure(
        f"{kind.__module__}.{kind.__qualname__}",
        _safe_text(lambda: str(exception), kind),
        _safe_text(
            lambda: "".join(
                traceback_module.format_exception(kind, exception, exception.__traceback__)
            ),
            kind,
        ),
    )


def describe_exception(exception: BaseException, traceback: str = "") -> Failure:
    """The dotted type and message of an exception, also when Celery had to wrap it."""
    if isinstance(exception, UnpickleableExceptionWrapper):
        return Failure(
            f"{exception.exc_module}.{exception.exc_cls_name}",
            getattr(exception, "text", None)
            or " ".join(str(arg) for arg in exception.exc_args or ()),
            traceback,
        )
    if isinstance(exception, Reject):
        return Failure("celery.exceptions.Reject", str(getattr(exception, "reason", "")), traceback)
    kind = type(exception)
    return Failure(
        f"{kind.__module__}.{kind.__qualname__}",
        _safe_text(lambda: str(exception), kind),
        traceback,
    )


def _traceback_of(einfo: Any) -> str:
    return str(getattr(einfo, "traceback", "") or "")


def on_after_publish(
    sender: str | None = None,
    body: Any = None,
    headers: dict[str, Any] | None = None,
    routing_key: str = "",
    **_: Any,
) -> None:
    if not headers or "id" not in headers:
        return  # message protocol 1 carries no headers; not supported
    name = headers.get("task") or sender or ""
    found = tracking.decode(headers)
    # A tracked task sent by name (send_task) carries no headers of ours.
    task = None if found.tracked else current_app.tasks.get(name)
    if not is_tracked(name, found.tracked, task):
        return
    args, kwargs = body[:2] if isinstance(body, (tuple, list)) else (None, None)
    record_dispatch(
        headers["id"],
        Transition(Status.QUEUED, int(headers.get("retries") or 0) + 1),
        job_info(
            name, task, found, args=args, kwargs=kwargs, queue=routing_key or "", canvas=headers
        ),
    )


def on_prerun(sender: Any = None, task_id: str = "", task: Any = None, **_: Any) -> None:
    task = task or sender
    request = task.request
    if not worker_tracks(task, request):
        return
    transition = Transition(Status.STARTED, _attempt(request))
    info = worker_info(task, request)  # started writes the worker and the time limit

    def start() -> bool:
        """Record the start; ``True`` if the job was cancelled before it started."""
        if record(task_id, transition, info=info) is not Outcome.IGNORED:
            return False
        # The row did not move to started: if it was cancelled meanwhile (and
        # the revoke was lost), the body must not run.
        rows = JobStatus.objects.using(status_db()).filter(task_id=task_id)
        return rows.values_list("status", flat=True).first() == Status.CANCELLED

    # Waits for the answer: it decides whether the body runs.
    if writer.call(start, inline=writes_inline(request)):
        setattr(request, SKIP_BODY, True)
    running.open_handle(task_id)
    setattr(request, DISPATCHER, dispatcher.enter_job(info.dispatched_by))


def on_postrun(sender: Any = None, task_id: str = "", task: Any = None, **_: Any) -> None:
    running.close_handle(task_id)
    token = getattr((task or sender).request, DISPATCHER, None)
    if token is not None:
        dispatcher.leave_job(token)


def on_success(sender: Any = None, **_: Any) -> None:
    request = sender.request
    if worker_tracks(sender, request):
        running.flush(request.id)  # then the success writes 100
        task_id, transition = request.id, Transition(Status.SUCCEEDED, _attempt(request))
        at = timezone.now()
        # Not waited for: the process goes on to its next job meanwhile.
        writer.submit(
            lambda: record(task_id, transition, info=lambda: worker_info(sender, request), at=at),
            inline=writes_inline(request),
        )


def on_failure(
    sender: Any = None,
    task_id: str = "",
    exception: BaseException | None = None,
    einfo: Any = None,
    **_: Any,
) -> None:
    request = sender.request
    in_pool_child = request.id == task_id
    if not in_pool_child:
        # Sent by the worker's main process (hard time limit), where the task's
        # request is not this job's: the attempt is unknown.
        close_old_connections()
    if not worker_tracks(sender, request if in_pool_child else None):
        return
    running.flush(task_id)
    attempt = _attempt(request) if in_pool_child else None
    at = timezone.now()
    if isinstance(exception, running.JobCancelled):
        # A task tracked only by track-all stopped at a check: that is a cancel.
        cancelled = Transition(Status.CANCELLED, attempt)
        note = "stopped at a cancellation check"
        writer.submit(
            lambda: record(task_id, cancelled, note=note, at=at),
            inline=not in_pool_child or writes_inline(request),
        )
        return
    stashed = getattr(request, FAILURE, None) if in_pool_child else None
    lost = isinstance(exception, WorkerLostError)
    note = ""
    if lost:
        note = "the worker process running the job was lost; a redelivery may still finish it"
    elif isinstance(exception, TimeLimitExceeded):
        note = "hard time limit exceeded"
    # A failure presumed from a lost worker stays provisional: if the same
    # attempt is delivered again and runs, what really happened wins.
    transition = Transition(Status.FAILED, attempt, provisional=lost)
    failure = stashed or (
        describe_exception(exception, _traceback_of(einfo)) if exception else None
    )
    info: Callable[[], JobInfo] = (
        (lambda: worker_info(sender, request)) if in_pool_child else (lambda: JobInfo(sender.name))
    )
    # In the pool process, not waited for: it goes on to its next job meanwhile.
    writer.submit(
        lambda: record(task_id, transition, info=info, failure=failure, note=note, at=at),
        inline=not in_pool_child or writes_inline(request),
    )


def on_retry(
    sender: Any = None, request: Any = None, reason: Any = None, einfo: Any = None, **_: Any
) -> None:
    if not worker_tracks(sender, request):
        return
    task_id, attempt = request.id, _attempt(request)
    exception = getattr(reason, "exc", None)
    failure = describe_exception(exception, _traceback_of(einfo)) if exception else None
    at = timezone.now()
    failed_at = getattr(request, RETRY_AT, None) or at

    def write() -> None:
        record_retrying(task_id, attempt, failure, at=failed_at)
        # The next attempt's message is already published (before this signal):
        # the row waits in the queue again, as attempt n + 1.
        queued = Transition(Status.QUEUED, attempt + 1)
        record(task_id, queued, info=lambda: worker_info(sender, request), at=at)

    writer.submit(write, inline=writes_inline(request))


def on_revoked(
    sender: Any = None,
    request: Any = None,
    terminated: bool = False,
    expired: bool = False,
    **_: Any,
) -> None:
    # Runs in the worker's main process: no per-task connection clean-up there.
    close_old_connections()
    if sender is None or request is None or not worker_tracks(sender, request):
        return
    note = "terminated" if terminated else "expired" if expired else "revoked"
    record(
        request.id,
        Transition(Status.CANCELLED, _attempt(request)),
        info=worker_info(sender, request),
        note=note,
    )


def _message_arguments(message: Any) -> tuple[Any, Any]:
    """The call's arguments, if the message's body can be read (protocol 2:
    ``[args, kwargs, embed]``); ``(None, None)`` if not, e.g. for a message
    rejected because it could not be decoded."""
    try:
        body = message.decode()
    except Exception:  # whatever the body holds, the job must still be recorded
        return None, None
    if isinstance(body, (list, tuple)) and len(body) >= 2:
        args, kwargs = body[0], body[1]
        if isinstance(args, (list, tuple)) and isinstance(kwargs, dict):
            return args, kwargs
    return None, None


def _fail_from_message(message: Any, note: str, failure: Failure) -> None:
    """Fail a job that never reached a task: what is known comes from the message alone."""
    headers = getattr(message, "headers", None) or {}
    task_id, name = headers.get("id"), headers.get("task") or ""
    found = tracking.decode(headers)
    if not task_id or not is_tracked(name, found.tracked):
        return
    close_old_connections()
    args, kwargs = _message_arguments(message)
    info = job_info(
        name,
        None,
        found,
        args=args,
        kwargs=kwargs,
        queue=(getattr(message, "delivery_info", None) or {}).get("routing_key") or "",
        canvas=headers,
    )
    record(
        task_id,
        Transition(Status.FAILED, int(headers.get("retries") or 0) + 1),
        info=info,
        failure=failure,
        note=note,
    )


def on_unknown(
    sender: Any = None, message: Any = None, exc: Any = None, name: str = "", **_: Any
) -> None:
    _fail_from_message(
        message,
        f"the worker has no task registered as {name!r}",
        Failure(
            "celery.exceptions.NotRegistered", f"Task {name!r} is not registered on the worker."
        ),
    )


def on_rejected(sender: Any = None, message: Any = None, exc: Any = None, **_: Any) -> None:
    reason = str(exc) if exc else "the message could not be understood"
    _fail_from_message(
        message,
        "the worker rejected the message without running it",
        describe_exception(exc) if exc else Failure("celery.exceptions.Reject", reason),
    )


def start_writer(**_: Any) -> None:
    """In each pool process: status writes on a thread with its own connection,
    which Celery's per-job connection clean-up leaves alone (``job_status.writer``)."""
    if app_settings.WRITER_THREAD:
        writer.start()


def stop_writer(**_: Any) -> None:
    writer.stop()


def connect() -> None:
    """Connect every handler; called from the app's ``ready()``."""
    uid = "job_status.contrib.celery.{}"
    receivers: list[tuple[Signal, Callable[..., None], str]] = [
        (signals.after_task_publish, on_after_publish, "publish"),
        (signals.task_prerun, on_prerun, "prerun"),
        (signals.task_postrun, on_postrun, "postrun"),
        (signals.task_success, on_success, "success"),
        (signals.task_failure, on_failure, "failure"),
        (signals.task_retry, on_retry, "retry"),
        (signals.task_revoked, on_revoked, "revoked"),
        (signals.task_unknown, on_unknown, "unknown"),
        (signals.task_rejected, on_rejected, "rejected"),
        (signals.worker_process_init, start_writer, "start_writer"),
        (signals.worker_process_shutdown, stop_writer, "stop_writer"),
    ]
    for signal, handler, name in receivers:
        signal.connect(handler, dispatch_uid=uid.format(name), weak=False)
