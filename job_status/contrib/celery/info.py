"""What job_status learns of a job from Celery: at dispatch, and on the worker."""

from __future__ import annotations

import logging
from typing import Any

from job_status.conf import app_settings
from job_status.contrib.celery import headers as tracking
from job_status.contrib.celery.tasks import TrackedTask
from job_status.dispatcher import current_dispatcher_id
from job_status.recording import JobInfo, check_storable_json

logger = logging.getLogger("job_status")


def excluded(name: str) -> bool:
    return any(name.startswith(prefix) for prefix in app_settings.TRACK_ALL_EXCLUDE)


def is_tracked(name: str, marked: bool, task: Any = None) -> bool:
    if marked or isinstance(task, TrackedTask):
        return True
    return app_settings.TRACK_ALL_TASKS and not excluded(name)


def stored_arguments(args: Any, kwargs: Any) -> dict[str, Any] | None:
    """The call's arguments as JSON for a later ``retry()``, or ``None`` if not kept
    or not known (both ``None``: a retry with no arguments would be a different call)."""
    if not app_settings.STORE_ARGUMENTS or (args is None and kwargs is None):
        return None
    arguments = {"args": list(args or ()), "kwargs": dict(kwargs or {})}
    try:
        check_storable_json(arguments)
    except (TypeError, ValueError):
        # e.g. objects sent with the pickle serializer, NaN, NUL: the job is
        # still recorded, and retry() says why it cannot dispatch it again.
        return None
    return arguments


def job_info(
    name: str,
    task: Any,
    found: tracking.TrackingHeaders,
    *,
    args: Any,
    kwargs: Any,
    queue: str,
    canvas: Any,
    worker: str = "",
    time_limit: float | None = None,
) -> JobInfo:
    """What is known of a job: its headers, else (sent by name, with no headers)
    what its tracked task class says for these arguments. ``canvas`` is the
    message's headers or the task's request, for the parent, root and group ids."""
    alias, tags = found.alias, found.tags
    dispatched_by, public = found.dispatched_by, found.public
    if not found.tracked:
        # No headers of ours (track-all, or sent by name): on the publisher,
        # the current request's user; on a worker, nobody.
        dispatched_by = current_dispatcher_id()
    if not found.tracked and isinstance(task, TrackedTask):
        public = task.job_public
        alias = task.job_alias
        try:
            tags = task.job_tags_for(args, kwargs)
        except Exception:
            # The task's own tag code failed on these arguments (bad arguments,
            # unstorable tags): record the job without its tags, never lose it.
            logger.warning("job_status: could not compute the tags of %s", name, exc_info=True)
            tags = {}
    get = tracking.getter(canvas)
    return JobInfo(
        job=name,
        alias=alias,
        tags=tags,
        queue=queue,
        queued_at=found.queued_at,
        arguments=stored_arguments(args, kwargs),
        parent_id=get("parent_id") or "",
        root_id=get("root_id") or "",
        group_id=get("group") or get("group_id") or "",
        retry_of=found.retry_of,
        worker=worker,
        time_limit=time_limit,
        dispatched_by=dispatched_by,
        public=public,
    )


def hard_time_limit(task: Any, request: Any) -> float | None:
    limits = getattr(request, "timelimit", None) or (None, None)
    hard = limits[0] if limits[0] is not None else getattr(task, "time_limit", None)
    if hard is None:
        hard = task.app.conf.task_time_limit
    return float(hard) if hard else None


def worker_info(task: Any, request: Any) -> JobInfo:
    delivery_info = getattr(request, "delivery_info", None) or {}
    return job_info(
        task.name,
        task,
        tracking.from_request(request),
        args=getattr(request, "args", None),
        kwargs=getattr(request, "kwargs", None),
        queue=delivery_info.get("routing_key") or "",
        canvas=request,
        worker=getattr(request, "hostname", None) or "",
        time_limit=hard_time_limit(task, request),
    )


def worker_tracks(task: Any, request: Any) -> bool:
    return is_tracked(task.name, tracking.from_request(request).tracked, task)
