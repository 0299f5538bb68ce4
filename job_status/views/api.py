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
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET

from job_status.access import may_control, sees_everything, visible_jobs, visible_task_ids
from job_status.control import CannotRetry
from job_status.models import JobStatus
from job_status.query import JobStatusQuerySet
from job_status.serialization import (
    job_detail,
    job_summary,
    referenced_ids,
    with_latest_message,
)
from job_status.statuses import parse_statuses
from job_status.tags import InvalidTag
from job_status.views.steering import SteeringFailed, cancel_job, retry_job

DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100
MAX_PAGE = 100_000  # deeper than anyone pages; filters narrow the list instead

# "key" (has the tag or label), or "key<operator>value".
_TAG_FILTER = re.compile(r"^(?P<key>[^=!<>]+?)(?:(?P<operator>!=|<=|>=|=|<|>)(?P<value>.*))?$")
# What may follow a quoted key: nothing, or an operator and a value.
_AFTER_QUOTED_KEY = re.compile(r"^(?:(?P<operator>!=|<=|>=|=|<|>)(?P<value>.*))?$")


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
        key, operator, value = parse_tag_filter(text)
        try:
            if operator is None:
                jobs = jobs.where_tag(key)
            else:
                jobs = jobs.where_tag(key, operator, tag_value(value))
        except (InvalidTag, ValueError, TypeError) as exc:
            raise BadFilter(f"tag: {exc}") from None
    return jobs


def parse_tag_filter(text: str) -> tuple[str, str | None, str]:
    """A ``tag`` parameter as (key, operator or ``None``, value text).

    ``key``, ``key=5``, ``key>=5``; a key that holds ``=``, ``!``, ``<`` or ``>``
    (or starts with ``"``) is written as a JSON string: ``"a<b"=5``. Unquoted,
    such a key would be cut at its first operator character."""
    if text.startswith('"'):
        try:
            key, end = json.JSONDecoder().raw_decode(text)
        except ValueError:
            raise BadFilter(f"tag: {text!r} starts with a quote but no JSON string.") from None
        if "\x00" in key:  # written as \u0000: PostgreSQL refuses NUL in text
            raise BadFilter("tag: a NUL character matches no job.")
        match = _AFTER_QUOTED_KEY.match(text[end:])
        if not match:
            raise BadFilter(
                f"tag: {text!r}: after a quoted key comes nothing, or an operator and a value."
            )
    else:
        match = _TAG_FILTER.match(text)
        if not match:
            raise BadFilter(
                f"tag: {text!r} is not 'key' or 'key<operator>value' "
                '(quote a key that holds = ! < or >: "a<b"=5).'
            )
        key = match["key"]
    operator, value = match["operator"], match["value"] or ""
    if operator is not None and not value:
        raise BadFilter(f'tag: {text!r} has no value after {operator!r} (the empty string is "").')
    return key, operator, value


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
    try:
        # The exact id first, then a UUID's canonical spelling: a job tracked
        # under an upper-case UUID (a custom id) is stored as it was given.
        return jobs.get_by_task_id(task_id)
    except JobStatus.DoesNotExist:
        return None


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


def _detail(request: HttpRequest, job: JobStatus) -> JsonResponse:
    user = request.user
    return JsonResponse(
        job_detail(
            job,
            can_control=may_control(user, job),
            internals=sees_everything(user),
            visible_ids=visible_task_ids(user, referenced_ids(job).values()),
        )
    )


@require_GET
def job_view(request: HttpRequest, task_id: str) -> JsonResponse:
    job = _visible_job(request, task_id)
    if isinstance(job, JsonResponse):
        return job
    return _detail(request, job)


def _read_on_action_url(request: HttpRequest, task_id: str) -> HttpResponse:
    """A GET on ``<id>/cancel/`` or ``<id>/retry/``: task ids are any strings, so
    it is the detail of a job whose id ends in ``/cancel`` (or ``/retry``) if the
    user may see one; else 405, as any other read of an action is."""
    if request.method == "GET":
        try:
            job = _find(request, task_id)
        except PermissionDenied:
            job = None
        if job is not None:
            return _detail(request, job)
    return HttpResponseNotAllowed(["POST"])


def _controlled(request: HttpRequest, task_id: str) -> JobStatus | JsonResponse:
    """The job to cancel or retry, or the response that refuses it."""
    job = _visible_job(request, task_id)
    if isinstance(job, JsonResponse):
        return job
    if not may_control(request.user, job):
        return _error("Only the job's dispatcher, or a holder of the change permission.", 403)
    return job


@csrf_protect
def job_cancel(request: HttpRequest, task_id: str) -> HttpResponse:
    if request.method != "POST":
        return _read_on_action_url(request, f"{task_id}/cancel")
    job = _controlled(request, task_id)
    if isinstance(job, JsonResponse):
        return job
    if job.has_finished():
        return _error(f"Job {job.task_id} has finished ({job.status}); nothing to cancel.", 409)
    terminate = request.POST.get("terminate") in ("1", "true", "yes")
    try:
        cancelled = cancel_job(job, terminate=terminate)
    except SteeringFailed as exc:
        # The cancel may be recorded already: the message says so, and the job
        # as it now stands comes with it.
        found = _find(request, job.task_id) or job
        return JsonResponse(
            {"error": str(exc), "job": job_summary(found, can_control=True)}, status=503
        )
    found = _find(request, job.task_id) or job
    return JsonResponse(
        {"cancelled": cancelled, "job": job_summary(found, can_control=True)},
        status=200,
    )


@csrf_protect
def job_retry(request: HttpRequest, task_id: str) -> HttpResponse:
    if request.method != "POST":
        return _read_on_action_url(request, f"{task_id}/retry")
    job = _controlled(request, task_id)
    if isinstance(job, JsonResponse):
        return job
    try:
        retried = retry_job(job)
    except CannotRetry as exc:
        return _error(str(exc), 409)
    except SteeringFailed as exc:
        return _error(str(exc), 503)
    return JsonResponse(
        {
            "job": job_summary(retried, can_control=True) if retried.pk else None,
            "task_id": retried.task_id,
        },
        status=201,
    )
