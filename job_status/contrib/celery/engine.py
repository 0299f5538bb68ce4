"""Celery as the engine behind ``cancel()`` and ``retry()``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from celery import current_app
from celery.utils import uuid

from job_status.contrib.celery import headers as tracking
from job_status.contrib.celery.tasks import TrackedTask
from job_status.dispatcher import dispatched_by

if TYPE_CHECKING:
    from job_status.models import JobStatus


class CeleryEngine:
    def revoke(self, task_id: str, *, terminate: bool = False) -> None:
        current_app.control.revoke(task_id, terminate=terminate)

    def redispatch(self, job: JobStatus) -> str:
        arguments: dict[str, Any] = job.arguments or {}
        args, kwargs = arguments.get("args", []), arguments.get("kwargs", {})
        tags = {tag.key: tag.value for tag in job.tags.all()}
        task_id = uuid()
        options: dict[str, Any] = {"task_id": task_id}
        if job.queue:
            options["queue"] = job.queue
        task = current_app.tasks.get(job.job)
        # The new job belongs to the same dispatcher, and is as public, as the old.
        with dispatched_by(job.dispatched_by_id):
            if isinstance(task, TrackedTask):
                task.apply_async(
                    args,
                    kwargs,
                    job_alias=job.alias,
                    job_tags=tags,
                    job_public=job.is_public,
                    headers={tracking.RETRY_OF: job.task_id},
                    **options,
                )
            else:
                # Tracked only by track-all, or not registered in this process:
                # send by name, carrying the headers a tracked task would.
                headers = tracking.TrackingHeaders(
                    tracked=True,
                    alias=job.alias,
                    tags=tags,
                    retry_of=job.task_id,
                    dispatched_by=str(job.dispatched_by_id or ""),
                    public=job.is_public,
                ).encode()
                current_app.send_task(job.job, args, kwargs, headers=headers, **options)
        return task_id
