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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connections,
    router,
    transaction,
)
from django.db.models import DateTimeField, F, Q, Value
from django.db.models.functions import Coalesce, Greatest
from django.db.models.signals import post_save, pre_save
from django.utils import timezone

from job_status import single_statement
from job_status.conf import app_settings
from job_status.models import JobStatus, JobTag, JobTransition
from job_status.statuses import FINISHED, Status, Transition, same_attempt_replaceable
from job_status.tags import TagValue, store_value
from job_status.text import storable_text, unstorable_reason

logger = logging.getLogger("job_status")


class Outcome(enum.Enum):
    CREATED = "created"
    UPDATED = "updated"
    IGNORED = "ignored"  # the row already holds a newer or final state
    FAILED = "failed"  # the database refused twice; logged


def status_db() -> str:
    """The database alias that status writes (and a running job's reads) go to:
    ``JOB_STATUS_DATABASE``, else the router's choice for ``JobStatus``."""
    return app_settings.DATABASE or router.db_for_write(JobStatus)


def check_storable_json(value: Any) -> None:
    """Raise ``ValueError`` (or ``TypeError``) unless every database can store ``value``
    in a JSON column: no NaN or infinities, no NUL characters or lone surrogates,
    only JSON types."""
    encoded = DjangoJSONEncoder(allow_nan=False, ensure_ascii=False).encode(value)
    # json escapes control characters even with ensure_ascii off: NUL is "\\u0000".
    reason = unstorable_reason(encoded.replace("\\u0000", "\x00"))
    if reason:
        raise ValueError(reason.replace("it has", "it contains", 1))


@dataclass(frozen=True)
class JobInfo:
    """What a write needs to create the row when it is the first to arrive,
    and what the worker learns of the attempt it starts."""

    job: str
    alias: str = ""
    tags: Mapping[str, TagValue] = field(default_factory=dict)
    queue: str = ""
    queued_at: datetime | None = None
    arguments: dict[str, Any] | None = None
    parent_id: str = ""
    root_id: str = ""
    group_id: str = ""
    retry_of: str = ""
    worker: str = ""
    time_limit: float | None = None
    dispatched_by: str = ""  # the user's primary key, as text
    public: bool = False

    def __post_init__(self) -> None:
        # Whatever a message said, it must fit its column and never break a write.
        for name in (
            "job",
            "alias",
            "queue",
            "parent_id",
            "root_id",
            "group_id",
            "retry_of",
            "worker",
            "dispatched_by",
        ):
            object.__setattr__(self, name, storable_text(str(getattr(self, name) or ""), 255))


@dataclass(frozen=True)
class Failure:
    """How an attempt failed, as text that fits the row and its timeline."""

    exception_type: str
    message: str
    traceback: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "exception_type", storable_text(self.exception_type, 255))
        object.__setattr__(self, "message", storable_text(self.message))
        object.__setattr__(self, "traceback", storable_text(self.traceback))


# What creates the row if it is missing: given, or built only when needed (a
# worker's event almost always finds its row, and building it costs).
InfoSource = JobInfo | Callable[[], JobInfo] | None


@dataclass
class _Event:
    transition: Transition
    at: datetime
    info_source: InfoSource
    failure: Failure | None
    note: str
    # A dispatch is history even when the row has moved on (the worker got
    # there first): its timeline entry is written either way.
    always_in_timeline: bool = False

    @cached_property
    def info(self) -> JobInfo | None:
        source = self.info_source
        return source() if callable(source) else source


def replaceable_rows(transition: Transition) -> Q:
    """The rows ``transition`` may overwrite: ``statuses.may_replace`` as a ``WHERE`` clause."""
    same_attempt = Q(status__in=same_attempt_replaceable(transition.status))
    if transition.status is not Status.QUEUED:
        same_attempt |= Q(status_is_provisional=True)
    if transition.attempt is None:
        return same_attempt
    return Q(attempts__lt=transition.attempt) | (Q(attempts=transition.attempt) & same_attempt)


def _update_fields(event: _Event) -> dict[str, Any]:
    transition, failure = event.transition, event.failure
    moment = Value(event.at, output_field=DateTimeField())
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
        if event.info is not None:
            fields["worker"] = event.info.worker
            fields["time_limit"] = event.info.time_limit
    elif transition.status is Status.QUEUED:
        fields["finished_at"] = None
    else:
        fields["finished_at"] = Greatest(moment, Coalesce(F("started_at"), F("queued_at")))
    if transition.status is Status.SUCCEEDED:
        # Done is all of it, in counts too (there are none if it reported a percentage).
        fields["progress"] = 100.0
        fields["progress_current"] = F("progress_total")
    return fields


def _new_row(task_id: str, event: _Event, info: JobInfo) -> tuple[JobStatus, list[JobTag]]:
    """The row (and its tags) that ``event`` creates when it is the first to arrive."""
    transition, failure, at = event.transition, event.failure, event.at
    queued_at = min(info.queued_at, at) if info.queued_at else at
    retry_of = info.retry_of
    if retry_of and not JobStatus.objects.using(status_db()).filter(task_id=retry_of).exists():
        retry_of = ""  # the original was pruned meanwhile; keep the job, drop the link
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
        progress=100.0 if transition.status is Status.SUCCEEDED else None,
        arguments=info.arguments,
        retry_of_id=retry_of or None,
        parent_id=info.parent_id,
        root_id=info.root_id,
        group_id=info.group_id,
        dispatched_by_id=info.dispatched_by or None,
        is_public=info.public,
        worker=info.worker if transition.status is Status.STARTED else "",
        time_limit=info.time_limit if transition.status is Status.STARTED else None,
    )
    tags = [
        JobTag(
            job_status=job,
            key=tag.key,
            value_type=tag.value_type,
            string_value=tag.string_value,
            number_value=tag.number_value,
        )
        for tag in (store_value(key, value) for key, value in info.tags.items())
    ]
    return job, tags


def _create(task_id: str, event: _Event, info: JobInfo, savepoint: bool = True) -> None:
    job, tags = _new_row(task_id, event, info)
    using = status_db()
    with transaction.atomic(using=using, savepoint=savepoint):
        job.save(force_insert=True, using=using)
        JobTag.objects.using(using).bulk_create(tags)


def _update(task_id: str, event: _Event) -> bool:
    """One conditional ``UPDATE``; ``True`` if it landed."""
    rows = (
        JobStatus.objects.using(status_db())
        .filter(task_id=task_id)
        .filter(replaceable_rows(event.transition))
    )
    return bool(rows.update(**_update_fields(event)))


def _timeline_entry(
    task_id: str,
    event: str,
    attempt: int | None,
    at: datetime,
    failure: Failure | None = None,
    note: str = "",
) -> JobTransition:
    return JobTransition(
        job_status_id=task_id,
        event=event,
        attempt=attempt,
        at=at,
        exception_type=failure.exception_type if failure else "",
        exception_message=failure.message if failure else "",
        traceback=failure.traceback if failure else "",
        note=note,
    )


def _write_timeline(entry: JobTransition) -> None:
    entry.save(force_insert=True, using=status_db())


def _event_entry(task_id: str, event: _Event) -> JobTransition:
    transition = event.transition
    return _timeline_entry(
        task_id, transition.status, transition.attempt, event.at, event.failure, event.note
    )


def _apply_in_one_statement(task_id: str, event: _Event) -> Outcome | None:
    """The common cases as one statement (``single_statement``): a first dispatch
    that creates its row, an event that moves an existing row on. ``None`` when
    the general path must decide (the row exists, is missing or stays)."""
    connection = connections[status_db()]
    transition = event.transition
    if transition.status is Status.QUEUED and transition.attempt == 1:
        if event.info is None or len(event.info.tags) > single_statement.MAX_TAGS:
            return None
        job, tags = _new_row(task_id, event, event.info)
        # The model's signals, as ``save()`` sends them on the other path.
        signal = {"sender": JobStatus, "instance": job, "raw": False, "using": connection.alias}
        pre_save.send(**signal, update_fields=None)
        try:
            single_statement.insert_job(job, tags, _event_entry(task_id, event), connection)
        except IntegrityError:
            return None
        post_save.send(**signal, created=True, update_fields=None)
        return Outcome.CREATED
    rows = JobStatus.objects.filter(task_id=task_id).filter(replaceable_rows(transition))
    entry = _event_entry(task_id, event)
    if single_statement.update_job(rows, _update_fields(event), entry, connection):
        return Outcome.UPDATED
    return None


def _apply(task_id: str, event: _Event) -> Outcome:
    using = status_db()
    if single_statement.available(connections[using]):
        outcome = _apply_in_one_statement(task_id, event)
        if outcome is not None:
            return outcome
    transition = event.transition
    if transition.status is Status.QUEUED and transition.attempt == 1 and event.info:
        # A first dispatch almost never finds its row: insert it and its timeline
        # entry straight away, without the savepoint the general path needs to
        # survive a failed insert. If the row exists, the general path decides.
        try:
            with transaction.atomic(using=using):
                _create(task_id, event, event.info, savepoint=False)
                _write_timeline(_event_entry(task_id, event))
            return Outcome.CREATED
        except IntegrityError:
            pass
    # One transaction, so nobody sees the new status without its timeline entry.
    with transaction.atomic(using=using):
        return _apply_in_transaction(task_id, event)


def _apply_in_transaction(task_id: str, event: _Event) -> Outcome:
    outcome = _apply_to_row(task_id, event)
    if outcome in (Outcome.CREATED, Outcome.UPDATED) or (
        outcome is Outcome.IGNORED and event.always_in_timeline
    ):
        _write_timeline(_event_entry(task_id, event))
    return outcome


def _apply_to_row(task_id: str, event: _Event) -> Outcome:
    # A first dispatch replaces nothing and almost never finds its row: it
    # goes straight to the insert. Every other event tries the update first.
    transition = event.transition
    first_dispatch = transition.status is Status.QUEUED and transition.attempt == 1
    if not first_dispatch and _update(task_id, event):
        return Outcome.UPDATED
    if event.info is None:
        exists = JobStatus.objects.using(status_db()).filter(task_id=task_id).exists()
        return Outcome.IGNORED if exists else Outcome.FAILED
    try:
        _create(task_id, event, event.info)
        return Outcome.CREATED
    except IntegrityError:
        # The row exists (another process may have just created it): the
        # conditional update decides whether this event still applies.
        pass
    if not first_dispatch and _update(task_id, event):
        return Outcome.UPDATED
    if not JobStatus.objects.using(status_db()).filter(task_id=task_id).exists():
        # The insert failed for another reason (a value the database refused).
        raise DataError(f"the row for task {task_id} could not be created")
    return Outcome.IGNORED


def guarded_write(task_id: str, what: str, write: Callable[[], Outcome]) -> Outcome:
    """Run ``write``; on a connection error retry once on a fresh connection, then log.

    Never raises: tracking must not break the job.
    """
    using = status_db()
    for last_try in (False, True):
        try:
            return write()
        except (OperationalError, InterfaceError):
            connection = connections[using]
            if last_try or connection.in_atomic_block:
                # Inside the caller's transaction a reconnect would lose its work.
                logger.exception("job_status: could not record %s for task %s", what, task_id)
                return Outcome.FAILED
            connection.close()
        except DatabaseError:
            logger.exception("job_status: could not record %s for task %s", what, task_id)
            return Outcome.FAILED
        except Exception:
            # Not the database's doing (a value no write could take, a bug of
            # ours): logged all the same, and the job goes on.
            logger.exception("job_status: could not record %s for task %s", what, task_id)
            return Outcome.FAILED
    raise AssertionError("unreachable")  # pragma: no cover


def record(
    task_id: str,
    transition: Transition,
    *,
    info: InfoSource = None,
    failure: Failure | None = None,
    note: str = "",
    at: datetime | None = None,
    always_in_timeline: bool = False,
) -> Outcome:
    """Apply one event to the row of ``task_id``, creating it from ``info`` if needed,
    and add it to the job's timeline if it changed the row (or always, if asked).
    ``info`` may be a callable, called only if the row has to be created.

    Never raises a database error: a write that fails is retried once after
    reconnecting, and then logged with the task id.
    """
    event = _Event(transition, at or timezone.now(), info, failure, note, always_in_timeline)
    outcome = guarded_write(task_id, transition.status, lambda: _apply(task_id, event))
    if outcome is Outcome.FAILED and info is None:
        logger.warning(
            "job_status: no row for task %s and nothing to create it from; %s not recorded",
            task_id,
            transition.status,
        )
    return outcome


def record_retrying(
    task_id: str, attempt: int, failure: Failure | None, at: datetime | None = None
) -> None:
    """Note in the timeline that ``attempt`` failed and will be retried.

    The row itself goes back to ``queued`` through the next attempt's dispatch.
    """
    when = at or timezone.now()

    def write() -> Outcome:
        if not JobStatus.objects.using(status_db()).filter(task_id=task_id).exists():
            return Outcome.IGNORED
        _write_timeline(_timeline_entry(task_id, JobTransition.RETRYING, attempt, when, failure))
        return Outcome.UPDATED

    guarded_write(task_id, JobTransition.RETRYING, write)


def cancel_if_queued(task_id: str, note: str, at: datetime | None = None) -> bool:
    """End a job that has not started as cancelled, at once; ``False`` if it had started."""
    when = at or timezone.now()
    moment = Value(when, output_field=DateTimeField())

    def write() -> Outcome:
        rows = JobStatus.objects.using(status_db()).filter(task_id=task_id, status=Status.QUEUED)
        if not rows.update(
            status=Status.CANCELLED,
            status_is_provisional=False,
            finished_at=Greatest(moment, F("queued_at")),
        ):
            return Outcome.IGNORED
        # The attempt that will now never run (a retry waiting counts as one).
        attempt = (
            JobStatus.objects.using(status_db())
            .filter(task_id=task_id)
            .values_list("attempts", flat=True)
            .first()
        )
        _write_timeline(_timeline_entry(task_id, Status.CANCELLED, attempt, when, note=note))
        return Outcome.UPDATED

    return guarded_write(task_id, "cancelled", write) is Outcome.UPDATED


def record_dispatch(task_id: str, transition: Transition, info: JobInfo) -> None:
    """Record a dispatch without ever holding up a worker on the caller's locks.

    Outside a transaction the row is written at once, so it can be read right
    after dispatch. Inside one it is written when the transaction commits; if
    it rolls back, the worker's own write creates the row when the job runs.
    """
    now = timezone.now()
    # A first dispatch happened when the dispatcher stamped it, before the
    # publish. (A retry's message keeps that first stamp: it is queued now.)
    first = transition.attempt == 1
    at = min(info.queued_at, now) if info.queued_at and first else now

    def write() -> None:
        record(task_id, transition, info=info, at=at, always_in_timeline=True)

    using = status_db()
    if transaction.get_connection(using).in_atomic_block:
        transaction.on_commit(write, using=using)
    else:
        write()
