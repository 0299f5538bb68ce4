"""The reaper: end records that no worker will ever report on.

A worker killed whole (every process, so nothing reports the loss), a hard time
limit on a Celery that sends no signal for it, a message rejected without a
trace: each leaves a row ``started`` for ever. The reaper fails such rows once
they are past their own hard time limit, or past ``JOB_STATUS_STALE_AFTER``
when they have none. A job whose cancel was requested ends ``cancelled``
instead. Either end is provisional, since the reaper cannot tell a slow job
from a lost one: if the job does report after all (it was only slow, or its
message was redelivered), what really happened wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from job_status.conf import app_settings
from job_status.models import JobStatus
from job_status.recording import Failure, Outcome, record
from job_status.statuses import Status, Transition

LOST = "job_status.WorkerLost"


@dataclass
class ReapReport:
    failed: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.failed) + len(self.cancelled)


@dataclass(frozen=True)
class StaleJob:
    task_id: str
    attempt: int
    reason: str
    ended_at: datetime
    cancel_requested: bool


def find_stale(
    *,
    now: datetime | None = None,
    stale_after: timedelta | None = None,
    grace: timedelta | None = None,
) -> list[StaleJob]:
    """Rows left ``started`` past their own hard time limit (plus ``grace``), or, without
    one, past ``stale_after`` since they started."""
    now = now or timezone.now()
    if stale_after is None:
        stale_after = timedelta(seconds=app_settings.STALE_AFTER)
    grace = grace if grace is not None else timedelta(seconds=app_settings.REAP_GRACE)
    # A zero or negative age would end every running job at once.
    if not isinstance(stale_after, timedelta) or stale_after <= timedelta(0):
        raise ValueError(f"stale_after must be a positive timedelta, got {stale_after!r}.")
    if not isinstance(grace, timedelta) or grace < timedelta(0):
        raise ValueError(f"grace must be a timedelta of zero or more, got {grace!r}.")
    started = JobStatus.objects.filter(status=Status.STARTED, started_at__isnull=False)
    candidates = started.filter(
        Q(time_limit__isnull=True, started_at__lt=now - stale_after) | Q(time_limit__isnull=False)
    ).values_list("task_id", "attempts", "started_at", "time_limit", "cancel_requested_at")
    stale = []
    for task_id, attempt, started_at, time_limit, cancel_requested_at in candidates.iterator():
        assert started_at is not None  # filtered above
        if time_limit is not None:
            try:
                limit_ends = started_at + timedelta(seconds=time_limit)
                within_limits = limit_ends + grace >= now
            except OverflowError:
                continue  # a limit past the end of the calendar: it never runs out
            if within_limits:
                continue
            reason = f"still running {time_limit:g} s after it started, past its hard time limit"
            ended_at = limit_ends
        else:
            reason = f"no worker reported on it for {stale_after.total_seconds():g} s"
            ended_at = now
        stale.append(StaleJob(task_id, attempt, reason, ended_at, cancel_requested_at is not None))
    return stale


def reap(
    *,
    now: datetime | None = None,
    stale_after: timedelta | None = None,
    grace: timedelta | None = None,
    dry_run: bool = False,
) -> ReapReport:
    """End every stale row; with ``dry_run``, only say which ones would be ended."""
    report = ReapReport()
    for job in find_stale(now=now, stale_after=stale_after, grace=grace):
        if job.cancel_requested:
            transition = Transition(Status.CANCELLED, job.attempt, provisional=True)
            failure = None
            done = report.cancelled
        else:
            transition = Transition(Status.FAILED, job.attempt, provisional=True)
            failure = Failure(LOST, f"Presumed lost: {job.reason}.")
            done = report.failed
        if dry_run:
            done.append(job.task_id)
            continue
        # Conditional like every write: a job that moved on meanwhile is left alone.
        outcome = record(
            job.task_id, transition, failure=failure, note=f"reaped: {job.reason}", at=job.ended_at
        )
        if outcome is Outcome.UPDATED:
            done.append(job.task_id)
    return report
