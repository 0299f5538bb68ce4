"""Celery signal handlers: translate what Celery reports into recorder events.

Which process runs what (DESIGN.md §4): the publisher runs the publish
handler; the pool child runs prerun, success, failure and retry; the worker's
main process runs revoked and some failures (lost worker, hard time limit).
The handlers stay thin: deciding what an event may overwrite is the job of
``job_status.statuses`` and ``job_status.recording``.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app, signals
from celery.utils.serialization import UnpickleableExceptionWrapper
from django.db import close_old_connections

from job_status.conf import app_settings
from job_status.contrib.celery import headers as tracking
from job_status.contrib.celery.tasks import TrackedTask
from job_status.recording import Failure, JobInfo, record, record_dispatch
from job_status.statuses import Status, Transition
from job_status.tags import InvalidTag

logger = logging.getLogger("job_status")


def _excluded(name: str) -> bool:
    return any(name.startswith(prefix) for prefix in app_settings.TRACK_ALL_EXCLUDE)


def _is_tracked(name: str, marked: bool, task: Any = None) -> bool:
    if marked or isinstance(task, TrackedTask):
        return True
    return app_settings.TRACK_ALL_TASKS and not _excluded(name)


def _attempt(request: Any) -> int:
    return int(getattr(request, "retries", 0) or 0) + 1


def _job_info(
    name: str, task: Any, found: tracking.TrackingHeaders, args: Any, kwargs: Any, queue: str
) -> JobInfo:
    """What is known of a job: its headers, else (sent by name, with no headers)
    what its tracked task class says for these arguments."""
    alias, tags = found.alias, found.tags
    if not found.tracked and isinstance(task, TrackedTask):
        alias = task.job_alias
        try:
            tags = task.job_tags_for(args, kwargs)
        except InvalidTag:
            logger.warning("job_status: %s has tags that cannot be stored", name, exc_info=True)
            tags = {}
    return JobInfo(job=name, alias=alias, tags=tags, queue=queue, queued_at=found.queued_at)


def _worker_info(task: Any, request: Any) -> JobInfo:
    delivery_info = getattr(request, "delivery_info", None) or {}
    return _job_info(
        task.name,
        task,
        tracking.from_request(request),
        getattr(request, "args", None),
        getattr(request, "kwargs", None),
        delivery_info.get("routing_key") or "",
    )


def _worker_tracks(task: Any, request: Any) -> bool:
    return _is_tracked(task.name, tracking.from_request(request).tracked, task)


def describe_exception(exception: BaseException) -> Failure:
    """The dotted type and message of an exception, also when Celery had to wrap it."""
    if isinstance(exception, UnpickleableExceptionWrapper):
        return Failure(f"{exception.exc_module}.{exception.exc_cls_name}", str(exception.exc_args))
    kind = type(exception)
    return Failure(f"{kind.__module__}.{kind.__qualname__}", str(exception))


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
    if not _is_tracked(name, found.tracked, task):
        return
    args, kwargs = body[:2] if isinstance(body, (tuple, list)) else (None, None)
    record_dispatch(
        headers["id"],
        Transition(Status.QUEUED, int(headers.get("retries") or 0) + 1),
        _job_info(name, task, found, args, kwargs, routing_key or ""),
    )


def on_prerun(sender: Any = None, task_id: str = "", task: Any = None, **_: Any) -> None:
    task = task or sender
    request = task.request
    if _worker_tracks(task, request):
        record(
            task_id,
            Transition(Status.STARTED, _attempt(request)),
            info=_worker_info(task, request),
        )


def on_success(sender: Any = None, **_: Any) -> None:
    request = sender.request
    if _worker_tracks(sender, request):
        record(
            request.id,
            Transition(Status.SUCCEEDED, _attempt(request)),
            info=_worker_info(sender, request),
        )


def on_failure(
    sender: Any = None, task_id: str = "", exception: BaseException | None = None, **_: Any
) -> None:
    request = sender.request
    if request.id != task_id:
        # Sent by the worker's main process (lost worker, time limit), where
        # the task's request is not this job's: the attempt is unknown.
        close_old_connections()
        attempt = None
    else:
        attempt = _attempt(request)
    if not _worker_tracks(sender, request if request.id == task_id else None):
        return
    record(
        task_id,
        Transition(Status.FAILED, attempt),
        info=_worker_info(sender, request) if attempt else JobInfo(job=sender.name),
        failure=describe_exception(exception) if exception else None,
    )


def on_retry(sender: Any = None, request: Any = None, **_: Any) -> None:
    if _worker_tracks(sender, request):
        # The next attempt's message is already published (before this signal):
        # the row waits in the queue again, as attempt n + 1.
        record(
            request.id,
            Transition(Status.QUEUED, _attempt(request) + 1),
            info=_worker_info(sender, request),
        )


def on_revoked(sender: Any = None, request: Any = None, **_: Any) -> None:
    # Runs in the worker's main process: no per-task connection clean-up there.
    close_old_connections()
    if _worker_tracks(sender, request):
        record(
            request.id,
            Transition(Status.CANCELLED, _attempt(request)),
            info=_worker_info(sender, request),
        )


def connect() -> None:
    """Connect every handler; called from the app's ``ready()``."""
    uid = "job_status.contrib.celery.{}"
    signals.after_task_publish.connect(
        on_after_publish, dispatch_uid=uid.format("publish"), weak=False
    )
    signals.task_prerun.connect(on_prerun, dispatch_uid=uid.format("prerun"), weak=False)
    signals.task_success.connect(on_success, dispatch_uid=uid.format("success"), weak=False)
    signals.task_failure.connect(on_failure, dispatch_uid=uid.format("failure"), weak=False)
    signals.task_retry.connect(on_retry, dispatch_uid=uid.format("retry"), weak=False)
    signals.task_revoked.connect(on_revoked, dispatch_uid=uid.format("revoked"), weak=False)
