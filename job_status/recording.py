"""Writing events to the database: idempotent, conditional upserts.

Every engine (Celery today) turns what it sees into calls of :func:`record`.
Each call is one conditional ``UPDATE`` that only lands on a row the status
rules allow (``statuses.may_replace``), and an ``INSERT`` when there is no row
yet. So events may arrive twice, out of order and from several processes, and
the row still ends up right. A write that fails is retried once on a fresh
connection and then logged: tracking never breaks the job.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connections,
    router,
    transaction,
)
from django.db.models import DateTimeField, F, Q, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from job_status.models import JobStatus, JobTag
from job_status.statuses import FINISHED, Status, Transition, same_attempt_replaceable
from job_status.tags import TagValue, store_value

logger = logging.getLogger("job_status")


class Outcome(enum.Enum):
    CREATED = "created"
    UPDATED = "updated"
    IGNORED = "ignored"  # the row already holds a newer or final state
    FAILED = "failed"  # the database refused twice; logged


@dataclass(frozen=True)
class JobInfo:
    """What a write needs to create the row when it is the first to arrive."""

    job: str
    alias: str = ""
    tags: Mapping[str, TagValue] = field(default_factory=dict)
    queue: str = ""
    queued_at: datetime | None = None


@dataclass(frozen=True)
class Failure:
    """How an attempt failed, as text that fits the row."""

    exception_type: str
    message: str


def replaceable_rows(transition: Transition) -> Q:
    """The rows ``transition`` may overwrite: ``statuses.may_replace`` as a ``WHERE`` clause."""
    same_attempt = Q(status__in=same_attempt_replaceable(transition.status))
    if transition.status is not Status.QUEUED:
        same_attempt |= Q(status_is_provisional=True)
    if transition.attempt is None:
        return same_attempt
    return Q(attempts__lt=transition.attempt) | (Q(attempts=transition.attempt) & same_attempt)


def _update_fields(transition: Transition, at: datetime, failure: Failure | None) -> dict[str, Any]:
    moment = Value(at, output_field=DateTimeField())
    fields: dict[str, Any] = {
        "status": transition.status,
        "status_is_provisional": transition.provisional,
        "exception_type": failure.exception_type if failure else "",
        "exception_message": failure.message if failure else "",
    }
    if transition.attempt is not None:
        fields["attempts"] = transition.attempt
    if transition.status is Status.STARTED:
        # Clocks of different hosts disagree: never start before the dispatch.
        fields["started_at"] = Greatest(moment, F("queued_at"))
        fields["finished_at"] = None
    elif transition.status is Status.QUEUED:
        fields["finished_at"] = None
    else:
        fields["finished_at"] = Greatest(moment, Coalesce(F("started_at"), F("queued_at")))
    return fields


def _create(
    task_id: str, transition: Transition, at: datetime, info: JobInfo, failure: Failure | None
) -> None:
    queued_at = min(info.queued_at, at) if info.queued_at else at
    job = JobStatus(
        task_id=task_id,
        job=info.job,
        alias=info.alias,
        queue=info.queue,
        status=transition.status,
        attempts=transition.attempt or 1,
        status_is_provisional=transition.provisional,
        queued_at=queued_at,
        started_at=at if transition.status is Status.STARTED else None,
        finished_at=at if transition.status in FINISHED else None,
        exception_type=failure.exception_type if failure else "",
        exception_message=failure.message if failure else "",
    )
    stored = [store_value(key, value) for key, value in info.tags.items()]
    using = router.db_for_write(JobStatus)
    with transaction.atomic(using=using):
        job.save(force_insert=True, using=using)
        JobTag.objects.using(using).bulk_create(
            JobTag(
                job_status=job,
                key=tag.key,
                value_type=tag.value_type,
                string_value=tag.string_value,
                number_value=tag.number_value,
            )
            for tag in stored
        )


def _update(task_id: str, transition: Transition, at: datetime, failure: Failure | None) -> bool:
    """One conditional ``UPDATE``; ``True`` if it landed."""
    rows = JobStatus.objects.filter(task_id=task_id).filter(replaceable_rows(transition))
    return bool(rows.update(**_update_fields(transition, at, failure)))


def _apply(
    task_id: str,
    transition: Transition,
    at: datetime,
    info: JobInfo | None,
    failure: Failure | None,
) -> Outcome:
    # A first dispatch replaces nothing and almost never finds its row: it
    # goes straight to the insert. Every other event tries the update first.
    first_dispatch = transition.status is Status.QUEUED and transition.attempt == 1
    if not first_dispatch and _update(task_id, transition, at, failure):
        return Outcome.UPDATED
    if info is None:
        exists = JobStatus.objects.filter(task_id=task_id).exists()
        return Outcome.IGNORED if exists else Outcome.FAILED
    try:
        _create(task_id, transition, at, info, failure)
        return Outcome.CREATED
    except IntegrityError:
        # The row exists (another process may have just created it): the
        # conditional update decides whether this event still applies.
        pass
    if not first_dispatch and _update(task_id, transition, at, failure):
        return Outcome.UPDATED
    return Outcome.IGNORED


def record(
    task_id: str,
    transition: Transition,
    *,
    info: JobInfo | None = None,
    failure: Failure | None = None,
    at: datetime | None = None,
) -> Outcome:
    """Apply one event to the row of ``task_id``, creating it from ``info`` if needed.

    Never raises a database error: a write that fails is retried once after
    reconnecting, and then logged with the task id.
    """
    at = at or timezone.now()
    using = router.db_for_write(JobStatus)
    for last_try in (False, True):
        try:
            outcome = _apply(task_id, transition, at, info, failure)
        except (OperationalError, InterfaceError):
            connection = connections[using]
            if last_try or connection.in_atomic_block:
                # Inside the caller's transaction a reconnect would lose its work.
                logger.exception(
                    "job_status: could not record %s for task %s", transition.status, task_id
                )
                return Outcome.FAILED
            connection.close()
            continue
        except DatabaseError:
            logger.exception(
                "job_status: could not record %s for task %s", transition.status, task_id
            )
            return Outcome.FAILED
        if outcome is Outcome.FAILED:
            logger.warning(
                "job_status: no row for task %s and nothing to create it from; %s not recorded",
                task_id,
                transition.status,
            )
        return outcome
    raise AssertionError("unreachable")  # pragma: no cover


def record_dispatch(task_id: str, transition: Transition, info: JobInfo) -> None:
    """Record a dispatch without ever holding up a worker on the caller's locks.

    Outside a transaction the row is written at once, so it can be read right
    after dispatch. Inside one it is written when the transaction commits; if
    it rolls back, the worker's own write creates the row when the job runs.
    """
    using = router.db_for_write(JobStatus)
    if transaction.get_connection(using).in_atomic_block:
        transaction.on_commit(lambda: record(task_id, transition, info=info), using=using)
    else:
        record(task_id, transition, info=info)
