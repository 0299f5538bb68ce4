"""The JSON API: plain Django views, included with ``job_status.urls``.

``GET jobs/`` lists the jobs the user may see (filters: ``job``, ``alias``,
``status``, ``tag``, ``batch``; ``page`` and ``per_page``); ``GET jobs/<task id>/``
shows one with its messages and timeline; ``POST jobs/<task id>/cancel/`` and
``.../retry/`` steer it. Who may do what is ``job_status.access``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_POST

from job_status.access import may_control, sees_everything, visible_jobs
from job_status.control import CannotRetry, normalize_task_id
from job_status.models import JobStatus
from job_status.query import JobStatusQuerySet
from job_status.serialization import job_detail, job_summary, with_latest_message
from job_status.statuses import parse_statuses
from job_status.tags import InvalidTag

DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100
MAX_PAGE = 100_000  # deeper than anyone pages; filters narrow the list instead

# "key" (has the tag or label), or "key<operator>value".
_TAG_FILTER = re.compile(r"^(?P<key>[^=!<>]+?)(?:(?P<operator>!=|<=|>=|=|<|>)(?P<value>.*))?$")


class BadFilter(ValueError):
    """A query parameter the list cannot use; its message says which and why."""


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _not_found() -> JsonResponse:
    # The same answer for a job that does not exist and one the user may not see.
    return _error("No such job.", 404)


def tag_value(text: str) -> Any:
    """A tag value from a query string: a JSON number, ``true``/``false`` or a
    quoted string keep their type (``election=5`` is the number 5,
    ``code="5"`` the string); anything else is the text itself."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, (int, float, str, bool)) else text


def filter_jobs(jobs: JobStatusQuerySet, params: Any) -> JobStatusQuerySet:
    """Apply the list's filters; ``BadFilter`` names a parameter it cannot use."""
    known = {"job", "alias", "status", "tag", "batch", "page", "per_page"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise BadFilter(f"Unknown filter {unknown[0]!r}; use {', '.join(sorted(known))}.")
    for name in sorted(params):
        if any("\x00" in value for value in params.getlist(name)):
            # PostgreSQL refuses NUL in text: it can match no job.
            raise BadFilter(f"{name}: a NUL character matches no job.")
    for name in params.getlist("job"):
        jobs = jobs.for_job(name)
    for alias in params.getlist("alias"):
        jobs = jobs.for_job_alias(alias)
    statuses = [part for value in params.getlist("status") for part in value.split(",") if part]
    if statuses:
        try:
            jobs = jobs.where_status(parse_statuses(statuses))
        except ValueError as exc:
            raise BadFilter(f"status: {exc}") from None
    for batch in params.getlist("batch"):
        jobs = jobs.for_batch(batch)
    for text in params.getlist("tag"):
        match = _TAG_FILTER.match(text)
        if not match:
            raise BadFilter(f"tag: {text!r} is not 'key' or 'key<operator>value'.")
        key, operator = match["key"], match["operator"]
        if operator is not None and not match["value"]:
            raise BadFilter(
                f'tag: {text!r} has no value after {operator!r} (the empty string is "").'
            )
        try:
            if operator is None:
                jobs = jobs.where_tag(key)
            else:
                jobs = jobs.where_tag(key, operator, tag_value(match["value"]))
        except (InvalidTag, ValueError, TypeError) as exc:
            raise BadFilter(f"tag: {exc}") from None
    return jobs


def _whole_number(params: Any, name: str, default: int, highest: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", text):
        raise BadFilter(f"{name}: {text!r} is not a whole number from 1 to {highest}.")
    number = int(text)
    if not 1 <= number <= highest:
        raise BadFilter(f"{name}: {number} must be from 1 to {highest}.")
    return number


def _visible(request: HttpRequest) -> JobStatusQuerySet:
    return visible_jobs(request.user)


def _find(request: HttpRequest, task_id: str) -> JobStatus | None:
    if len(task_id) > 255 or "\x00" in task_id:
        return None  # no such job (and PostgreSQL refuses NUL in text)
    jobs = with_latest_message(_visible(request))
    return jobs.filter(task_id=normalize_task_id(task_id)).first()


@require_GET
def job_list(request: HttpRequest) -> JsonResponse:
    try:
        jobs = filter_jobs(_visible(request), request.GET)
        page = _whole_number(request.GET, "page", 1, MAX_PAGE)
        per_page = _whole_number(request.GET, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
    except PermissionDenied as exc:
        return _error(str(exc), 403)
    except BadFilter as exc:
        return _error(str(exc), 400)
    start = (page - 1) * per_page
    # One more than a page tells whether there is a next one, without counting
    # the whole table.
    found = list(with_latest_message(jobs)[start : start + per_page + 1])
    user = request.user
    return JsonResponse(
        {
            "results": [
                job_summary(job, can_control=may_control(user, job)) for job in found[:per_page]
            ],
            "page": page,
            "per_page": per_page,
            "has_next": len(found) > per_page,
        }
    )


def _visible_job(request: HttpRequest, task_id: str) -> JobStatus | JsonResponse:
    """The job, if the user may see it; else the response that says so (403 for an
    anonymous request, 404 for a job that does not exist for this user)."""
    try:
        job = _find(request, task_id)
    except PermissionDenied as exc:
        return _error(str(exc), 403)
    return _not_found() if job is None else job


@require_GET
def job_view(request: HttpRequest, task_id: str) -> JsonResponse:
    job = _visible_job(request, task_id)
    if isinstance(job, JsonResponse):
        return job
    user = request.user
    return JsonResponse(
        job_detail(job, can_control=may_control(user, job), internals=sees_everything(user))
    )


def _controlled(request: HttpRequest, task_id: str) -> JobStatus | JsonResponse:
    """The job to cancel or retry, or the response that refuses it."""
    job = _visible_job(request, task_id)
    if isinstance(job, JsonResponse):
        return job
    if not may_control(request.user, job):
        return _error("Only the job's dispatcher, or a holder of the change permission.", 403)
    return job


@require_POST
@csrf_protect
def job_cancel(request: HttpRequest, task_id: str) -> JsonResponse:
    job = _controlled(request, task_id)
    if isinstance(job, JsonResponse):
        return job
    if job.has_finished():
        return _error(f"Job {job.task_id} has finished ({job.status}); nothing to cancel.", 409)
    terminate = request.POST.get("terminate") in ("1", "true", "yes")
    cancelled = job.cancel(terminate=terminate)
    found = _find(request, job.task_id) or job
    return JsonResponse(
        {"cancelled": cancelled, "job": job_summary(found, can_control=True)},
        status=200,
    )


@require_POST
@csrf_protect
def job_retry(request: HttpRequest, task_id: str) -> JsonResponse:
    job = _controlled(request, task_id)
    if isinstance(job, JsonResponse):
        return job
    try:
        retried = job.retry()
    except CannotRetry as exc:
        return _error(str(exc), 409)
    return JsonResponse(
        {
            "job": job_summary(retried, can_control=True) if retried.pk else None,
            "task_id": retried.task_id,
        },
        status=201,
    )
