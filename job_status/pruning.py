"""Pruning: delete the records of jobs that finished long ago.

Only finished rows (succeeded, failed, cancelled) whose ``finished_at`` is older
than the given age are deleted, a batch at a time: each batch is one short
transaction that picks the next rows by primary key, locks them, and deletes
them with their tags, messages, timeline and signals (the foreign keys'
cascades). A job that was a retry of a pruned one keeps its row and loses the
link (``retry_of`` is ``SET_NULL``).

A queued or started row is never deleted, even one that moves meanwhile: the
rows of a batch are chosen and locked in the same statement, so a row a worker
is writing to is skipped (``SKIP LOCKED``) and a row that a worker has just
reopened no longer matches. SQLite has no row locks; there the batch first takes
the database's single write lock, so no worker writes between the choice and the
delete.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.apps import apps
from django.db import connections, router, transaction
from django.db.models import Count, QuerySet, signals
from django.utils import timezone

from job_status.models import JobStatus
from job_status.statuses import FINISHED, Status

DEFAULT_BATCH_SIZE = 1000
MAX_BATCH_SIZE = 10_000


@dataclass(frozen=True)
class PrunedBatch:
    """One batch, as it was deleted."""

    number: int
    jobs: int
    related: dict[str, int]
    """Rows deleted with the jobs, by model label (``"job_status.JobTag"``)."""


@dataclass
class PruneReport:
    """What a prune deleted, or with ``dry_run`` would delete."""

    cutoff: datetime
    statuses: tuple[Status, ...]
    dry_run: bool = False
    jobs: Counter[str] = field(default_factory=Counter)
    """Jobs deleted (or that would be), by status."""
    related: Counter[str] = field(default_factory=Counter)
    """Rows deleted with the jobs, by model label; empty for a dry run."""
    batches: int = 0

    def __len__(self) -> int:
        return sum(self.jobs.values())


def prunable(
    older_than: timedelta, *, keep_failed: bool = False, now: datetime | None = None
) -> tuple[datetime, tuple[Status, ...]]:
    """The cutoff and the statuses a prune with these options deletes."""
    if older_than < timedelta(0):
        raise ValueError(f"older_than must not be negative, got {older_than}.")
    now = now or timezone.now()
    try:
        cutoff = now - older_than
    except OverflowError:
        raise ValueError(f"older_than={older_than} reaches back before the year 1.") from None
    statuses = tuple(
        status
        for status in Status
        if status in FINISHED and not (keep_failed and status is Status.FAILED)
    )
    return cutoff, statuses


def prune(
    *,
    older_than: timedelta,
    keep_failed: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    now: datetime | None = None,
    on_batch: Callable[[PrunedBatch], None] | None = None,
) -> PruneReport:
    """Delete the jobs that finished more than ``older_than`` ago, ``batch_size`` at a time.

    With ``keep_failed`` failed jobs stay; with ``dry_run`` nothing is deleted and
    the report counts what would be. ``on_batch`` is called after each batch.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise TypeError(f"batch_size must be an int, got {batch_size!r}.")
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size must be from 1 to {MAX_BATCH_SIZE}, got {batch_size}.")
    cutoff, statuses = prunable(older_than, keep_failed=keep_failed, now=now)
    using = router.db_for_write(JobStatus)
    candidates = JobStatus.objects.using(using).filter(status__in=statuses, finished_at__lt=cutoff)
    report = PruneReport(cutoff=cutoff, statuses=statuses, dry_run=dry_run)
    if dry_run:
        by_status = candidates.order_by().values_list("status").annotate(n=Count("pk"))
        report.jobs.update(dict(by_status))
        return report

    last_pk = None
    while True:
        batch = candidates if last_pk is None else candidates.filter(pk__gt=last_pk)
        with transaction.atomic(using=using):
            rows = _lock_batch(batch, batch_size, using)
            if not rows:
                break
            # Keyset pagination: each batch starts where the last one ended, so a
            # run reads the table once, however many rows it keeps (failed ones
            # with keep_failed, or rows skipped because a worker held them).
            last_pk = rows[-1][0]
            jobs = JobStatus.objects.using(using).filter(pk__in=[pk for pk, _ in rows])
            _, deleted = _delete(jobs)
        report.batches += 1
        report.jobs.update(status for _, status in rows)
        related = {label: n for label, n in deleted.items() if label != JobStatus._meta.label}
        report.related.update(related)
        if on_batch is not None:
            on_batch(PrunedBatch(report.batches, len(rows), related))
        if len(rows) < batch_size:
            break
    return report


def _lock_batch(
    candidates: QuerySet[JobStatus], batch_size: int, using: str
) -> list[tuple[int, str]]:
    """The next batch's primary keys and statuses, locked until the transaction ends."""
    connection = connections[using]
    features = connection.features
    if features.has_select_for_update:
        candidates = candidates.select_for_update(
            skip_locked=features.has_select_for_update_skip_locked
        )
    elif connection.vendor == "sqlite":
        # What BEGIN IMMEDIATE does: take the write lock before reading. Reading
        # first and writing later fails at once ("database is locked") if a
        # worker wrote in between, and could delete a row the worker reopened.
        quote, meta = connection.ops.quote_name, JobStatus._meta
        table, pk = quote(meta.db_table), quote(meta.pk.column)
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET {pk} = {pk} WHERE 0")  # changes no row
    return list(candidates.order_by("pk").values_list("pk", "status")[:batch_size])


def _delete(jobs: QuerySet[JobStatus]) -> tuple[int, dict[str, int]]:
    """Delete ``jobs`` through Django's cascades, fetching only the keys they need
    (unless someone listens for their deletion, who may read any field)."""
    if not (
        signals.pre_delete.has_listeners(JobStatus) or signals.post_delete.has_listeners(JobStatus)
    ):
        jobs = jobs.only("pk", "task_id")
    return jobs.delete()


def describe_related(related: Counter[str] | dict[str, int]) -> str:
    """``"3 job tags, 1 job message"``: rows deleted with the jobs, by kind."""
    parts = []
    for label, n in sorted(related.items()):
        meta = apps.get_model(label)._meta
        if n:
            parts.append(f"{n} {meta.verbose_name if n == 1 else meta.verbose_name_plural}")
    return ", ".join(parts)
