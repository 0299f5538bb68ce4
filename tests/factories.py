"""Rows made through the recorder, the way handlers make them."""

from __future__ import annotations

from datetime import timedelta
from itertools import count

from django.utils import timezone

from job_status.models import JobStatus
from job_status.recording import Failure, JobInfo, record
from job_status.statuses import Status, Transition

_ids = count(1)
_clock = count(0)


def make_job(
    status: Status | str = Status.QUEUED,
    *,
    job: str = "app.tasks.export",
    alias: str = "",
    tags=None,
    task_id: str | None = None,
    dispatched_by=None,
    public: bool = False,
) -> JobStatus:
    """A job driven through the recorder up to ``status``, dispatched after every earlier one."""
    status = Status(status)
    task_id = task_id or f"task-{next(_ids)}"
    queued_at = timezone.now() + timedelta(seconds=next(_clock))
    info = JobInfo(
        job=job,
        alias=alias,
        tags=tags or {},
        queued_at=queued_at,
        dispatched_by=str(dispatched_by.pk) if dispatched_by else "",
        public=public,
    )
    record(task_id, Transition(Status.QUEUED, 1), info=info, at=queued_at)
    if status is not Status.QUEUED:
        if status is not Status.CANCELLED:
            record(task_id, Transition(Status.STARTED, 1), at=queued_at + timedelta(milliseconds=1))
        if status is not Status.STARTED:
            failure = Failure("builtins.ValueError", "boom") if status is Status.FAILED else None
            record(
                task_id,
                Transition(status, 1),
                failure=failure,
                at=queued_at + timedelta(milliseconds=2),
            )
    return JobStatus.objects.get(task_id=task_id)
