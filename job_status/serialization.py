"""Jobs as JSON, for the API, the dashboard and the widget."""

from __future__ import annotations

from collections.abc import Container
from datetime import datetime, timedelta
from typing import Any

from django.db.models import OuterRef, Subquery

from job_status.models import JobMessage, JobStatus
from job_status.query import JobStatusQuerySet


def with_latest_message(jobs: JobStatusQuerySet) -> JobStatusQuerySet:
    """``jobs`` with each one's latest non-debug message, read in the same query,
    and its tags fetched in one more: a page of jobs costs two queries."""
    latest = (
        JobMessage.objects.filter(job_status=OuterRef("task_id"))
        .exclude(level=JobMessage.Level.DEBUG)
        .order_by("-created_at", "-id")
    )
    return jobs.annotate(
        latest_message_level=Subquery(latest.values("level")[:1]),
        latest_message_text=Subquery(latest.values("text")[:1]),
        latest_message_at=Subquery(latest.values("created_at")[:1]),
    ).prefetch_related("tags")


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _seconds(value: timedelta | None) -> float | None:
    return value.total_seconds() if value is not None else None


def job_summary(job: JobStatus, *, can_control: bool) -> dict[str, Any]:
    """What a list shows of a job. ``latest_message`` comes from
    :func:`with_latest_message` when the job was read through it."""
    if hasattr(job, "latest_message_text"):
        text = job.latest_message_text
        latest = (
            {
                "level": getattr(job, "latest_message_level", ""),
                "text": text,
                "at": _time(getattr(job, "latest_message_at", None)),
            }
            if text is not None
            else None
        )
    else:
        message = job.latest_message()
        latest = (
            {"level": message.level, "text": message.text, "at": _time(message.created_at)}
            if message
            else None
        )
    return {
        "task_id": job.task_id,
        "job": job.job,
        "alias": job.alias,
        "status": job.status,
        "finished": job.has_finished(),
        "queue": job.queue,
        "attempts": job.attempts,
        "progress": job.progress,
        "progress_current": job.progress_current,
        "progress_total": job.progress_total,
        "tags": {tag.key: tag.value for tag in job.tags.all()},
        "queued_at": _time(job.queued_at),
        "started_at": _time(job.started_at),
        "finished_at": _time(job.finished_at),
        "runtime": _seconds(job.runtime),
        "wait_time": _seconds(job.wait_time),
        "exception_type": job.exception_type,
        "exception_message": job.exception_message,
        "cancel_requested_at": _time(job.cancel_requested_at),
        "latest_message": latest,
        "public": job.is_public,
        "can_control": can_control,
    }


def referenced_ids(job: JobStatus) -> dict[str, str | None]:
    """The other jobs a job names, by field: the one it retries, its parent and root
    (``None`` or ``""`` where it names none)."""
    return {
        "retry_of": job.retry_of_id,
        "parent_id": job.parent_id,
        "root_id": job.root_id,
    }


def _shown_references(job: JobStatus, visible_ids: Container[str]) -> dict[str, str | None]:
    # An id of a job the reader may not see would hint at it: null instead.
    # The group id stays: it names a batch, not a job, and the batch filter
    # lists only the jobs the reader may see.
    return {
        field: (task_id if not task_id or task_id in visible_ids else None)
        for field, task_id in referenced_ids(job).items()
    }


def job_detail(
    job: JobStatus, *, can_control: bool, internals: bool, visible_ids: Container[str]
) -> dict[str, Any]:
    """A job with its messages and timeline. Tracebacks and the worker's host name
    only with ``internals`` (for operators, not for every user who may see a job).
    ``visible_ids`` are the ids, of those :func:`referenced_ids` names, that the
    reader may see (``access.visible_task_ids``); the others are null."""
    return {
        **job_summary(job, can_control=can_control),
        **_shown_references(job, visible_ids),
        "group_id": job.group_id,
        "worker": job.worker if internals else "",
        "messages": [
            {"level": message.level, "text": message.text, "at": _time(message.created_at)}
            for message in job.messages.all()
        ],
        "timeline": [
            {
                "event": entry.event,
                "attempt": entry.attempt,
                "at": _time(entry.at),
                "exception_type": entry.exception_type,
                "exception_message": entry.exception_message,
                "traceback": entry.traceback if internals else "",
                "note": entry.note,
            }
            for entry in job.timeline.all()
        ],
    }
