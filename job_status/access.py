"""Who may see and steer which jobs, outside the admin (the JSON API, the dashboard,
the widget).

- Holders of the ``view`` (or ``change``, as in Django's admin) permission on
  job statuses see every job (``is_staff`` alone does not); a signed-in user
  sees the jobs they dispatched and public ones; an anonymous request is refused, unless
  ``JOB_STATUS_ANONYMOUS_SEES_PUBLIC`` lets it see public jobs.
- Cancelling and retrying take the job's dispatcher, or the ``change`` permission.

A job someone may not see does not exist for them: the views answer 404.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q

from job_status.conf import app_settings
from job_status.models import JobStatus
from job_status.query import JobStatusQuerySet

VIEW_ALL = "job_status.view_jobstatus"
CONTROL_ALL = "job_status.change_jobstatus"


def visible_jobs(user: Any, jobs: JobStatusQuerySet | None = None) -> JobStatusQuerySet:
    """The jobs ``user`` may see, out of ``jobs`` (all jobs by default).

    Raises ``PermissionDenied`` for an anonymous user unless public jobs are open
    to them."""
    jobs = JobStatus.objects.all() if jobs is None else jobs
    if user.is_authenticated:
        if sees_everything(user):
            return jobs
        return jobs.filter(Q(dispatched_by=user.pk) | Q(is_public=True))
    if app_settings.ANONYMOUS_SEES_PUBLIC:
        return jobs.filter(is_public=True)
    raise PermissionDenied("Sign in to see jobs.")


def visible_task_ids(user: Any, task_ids: Iterable[str | None]) -> set[str]:
    """Which of ``task_ids`` name jobs ``user`` may see: one query for all of them
    (a page of jobs costs one, not one per row), none for an operator.

    A job that shows another's id (its parent, its root, the job it retries)
    shows it only if it is in here: a job someone may not see is never hinted at."""
    wanted = {task_id for task_id in task_ids if task_id}
    if not wanted or sees_everything(user):
        return wanted
    try:
        jobs = visible_jobs(user)
    except PermissionDenied:
        return set()
    return set(jobs.filter(task_id__in=wanted).values_list("task_id", flat=True))


def sees_everything(user: Any) -> bool:
    """Holders of ``view`` or ``change``: every job, with its tracebacks and worker."""
    return bool(user.is_authenticated and (user.has_perm(VIEW_ALL) or user.has_perm(CONTROL_ALL)))


def may_control(user: Any, job: JobStatus) -> bool:
    """Whether ``user`` may cancel or retry ``job`` (which they can see)."""
    if not user.is_authenticated:
        return False
    if job.dispatched_by_id is not None and job.dispatched_by_id == user.pk:
        return True
    return bool(user.has_perm(CONTROL_ALL))
