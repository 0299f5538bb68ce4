"""Cancelling and retrying for the API and the admin, when the engine fails.

A cancel writes the database first and then asks the workers to revoke the job;
a retry publishes a new message. Either can fail half way when the broker is
down. The person who asked must then learn what state the job is in, so that
nobody retries a job twice (or believes a cancel went nowhere) without knowing.
"""

from __future__ import annotations

import logging

from job_status.control import CannotRetry
from job_status.models import JobStatus
from job_status.statuses import Status

logger = logging.getLogger("job_status")


class SteeringFailed(Exception):
    """A cancel or retry failed part way; the message names the error and says
    what state the job was left in."""


def _named(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def cancel_job(job: JobStatus, *, terminate: bool = False) -> bool:
    """``job.cancel()``; ``SteeringFailed`` if the engine (or anything) fails."""
    try:
        return job.cancel(terminate=terminate)
    # The core never imports Celery, so it cannot list the broker's errors
    # (kombu's OperationalError, a refused connection, ...): whatever the call
    # raised, the caller gets an answer that says where the job stands.
    except Exception as exc:
        logger.exception("Cancelling job %s failed", job.task_id)
        raise SteeringFailed(
            f"Job {job.task_id}: the cancel did not reach the workers ({_named(exc)}). "
            f"{_state_after_failed_cancel(job)}"
        ) from exc


def _state_after_failed_cancel(job: JobStatus) -> str:
    # The cancel request is written before the workers are asked: read back
    # how far it got.
    try:
        job.refresh_from_db()
    except Exception:  # the database may be what failed
        return "Its state could not be read back; look at the job again before acting."
    if job.status == Status.CANCELLED:
        return (
            "It is recorded as cancelled and will not run (a tracked job checks its "
            "record before it starts); nothing more to do."
        )
    if job.cancel_requested_at is not None and not job.has_finished():
        return (
            f"It is {job.status}, with the cancel request recorded: it stops at its next "
            "check, but it was not killed."
        )
    return f"It is {job.status}, and no cancel request is recorded: cancel it again later."


def retry_job(job: JobStatus) -> JobStatus:
    """``job.retry()``; ``CannotRetry`` as it raises it, ``SteeringFailed`` if the
    dispatch fails (the broker is down)."""
    try:
        return job.retry()
    except CannotRetry:
        raise
    except Exception as exc:  # whatever the engine raised: see cancel_job
        logger.exception("Retrying job %s failed", job.task_id)
        # A new job's record is written once its message is published: a
        # failed publish leaves none.
        raise SteeringFailed(
            f"Job {job.task_id} was not dispatched again ({_named(exc)}); no new job was "
            "recorded. Retry it once the job queue answers."
        ) from exc
