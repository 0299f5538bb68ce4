"""Steering jobs from outside (views, the shell, the admin): cancel, retry, signal.

These are the model's ``cancel()``, ``retry()`` and ``send_signal()``; they live
here so the model module stays about the record.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from job_status.engines import get_engine
from job_status.recording import cancel_if_queued, check_storable_json
from job_status.statuses import NOT_FINISHED, Status
from job_status.text import unstorable_reason

if TYPE_CHECKING:
    from job_status.models import JobStatus


class CannotRetry(Exception):
    """``retry()`` was asked of a job it cannot dispatch again; the message says why."""


def normalize_task_id(task_id: str) -> str:
    """A UUID given in upper case, without dashes or in braces, in its canonical form;
    any other id unchanged (custom task ids are case-sensitive strings)."""
    try:
        return str(uuid.UUID(task_id.strip()))
    except ValueError:
        return task_id


def cancel(job: JobStatus, *, terminate: bool = False) -> bool:
    """Record a cancel request; end a job that has not started at once.

    A running job stops at its next check (``should_cancel()``/``check()``);
    ``terminate=True`` also asks the workers to kill it. Returns ``True`` if the
    job is cancelled now, ``False`` if it was running (or had finished).
    """
    from job_status.models import JobStatus

    if job._state.adding:
        # retry() inside a transaction returns the record its new job will have.
        raise JobStatus.DoesNotExist(
            f"Job {job.task_id} is not recorded yet: it was dispatched inside a transaction "
            "that has not committed. Cancel it once the transaction commits "
            "(transaction.on_commit)."
        )
    now = timezone.now()
    JobStatus.objects.filter(
        task_id=job.task_id, cancel_requested_at=None, status__in=NOT_FINISHED
    ).update(cancel_requested_at=now)
    cancelled = cancel_if_queued(job.task_id, note="cancelled before it started", at=now)
    if cancelled or job.status == Status.STARTED or terminate:
        # Best effort: the worker may hold the message already (countdown); the
        # tracked task also checks the row before it runs the body.
        get_engine().revoke(job.task_id, terminate=terminate and not cancelled)
    job.refresh_from_db()
    return job.status == Status.CANCELLED


def retry(job: JobStatus) -> JobStatus:
    """Dispatch a failed or cancelled job again with the same arguments; return the new record."""
    from job_status.models import JobStatus

    if job.status not in (Status.FAILED, Status.CANCELLED):
        raise CannotRetry(
            f"Job {job.task_id} is {job.status}; only failed or cancelled jobs can be retried."
        )
    if job.arguments is None:
        raise CannotRetry(
            f"Job {job.task_id} has no stored arguments (JOB_STATUS_STORE_ARGUMENTS was off, "
            "or they could not be stored as JSON), so it cannot be dispatched again."
        )
    new_task_id = get_engine().redispatch(job)
    found = JobStatus.objects.filter(task_id=new_task_id).first()
    if found is not None:
        return found
    # Dispatched inside a transaction: the row is written when it commits.
    # Until then, this unsaved record says what it will hold.
    return JobStatus(
        task_id=new_task_id,
        job=job.job,
        alias=job.alias,
        queue=job.queue,
        status=Status.QUEUED,
        queued_at=timezone.now(),
        arguments=job.arguments,
        retry_of=job,
        dispatched_by_id=job.dispatched_by_id,
        is_public=job.is_public,
    )


def send_signal(job: JobStatus, name: str, parameters: dict[str, Any] | None = None) -> None:
    """Send the custom signal ``name`` to a job; it runs its handler when it next checks."""
    from job_status.models import JobSignal

    if not isinstance(name, str) or not name or len(name) > 100 or unstorable_reason(name):
        raise ValueError(
            f"A signal name must be a string of 1 to 100 characters that can be stored, "
            f"got {name!r}."
        )
    if parameters is not None and not isinstance(parameters, Mapping):
        raise TypeError(
            f"The parameters of signal {name!r} must be a dict, got {type(parameters).__name__} "
            f"({parameters!r})."
        )
    if parameters and not all(isinstance(key, str) for key in parameters):
        # JSON would turn other keys into strings, and the handler would not find them.
        raise TypeError(f"The parameters of signal {name!r} must have string keys.")
    parameters = dict(parameters or {})
    try:
        check_storable_json(parameters)  # refuse what cannot be stored, here and now
    except (TypeError, ValueError) as exc:
        raise TypeError(f"The parameters of signal {name!r} cannot be stored: {exc}") from exc
    if job.has_finished():
        raise ValueError(
            f"Job {job.task_id} has finished ({job.status}); nobody will handle {name!r}."
        )
    JobSignal.objects.create(
        job_status=job, name=name, parameters=parameters, sent_at=timezone.now()
    )
