"""The Django admin for job records: read-only, with cancel and retry actions.

Built to stay fast on a table of millions of rows: the list never counts the
whole table (``CappedCountPaginator``), its filters need no query to draw
(statuses are fixed choices; job, alias and tag are typed in, not listed from
the table), and each page reads the jobs' tags in one more query.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from job_status.access import CONTROL_ALL, VIEW_ALL
from job_status.control import CannotRetry, normalize_task_id
from job_status.models import JobMessage, JobStatus, JobTransition
from job_status.serialization import with_latest_message
from job_status.views.api import BadFilter, filter_jobs
from job_status.views.steering import SteeringFailed, cancel_job, retry_job

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[JobStatus]
    _Inline = admin.TabularInline[Any, Any]
else:  # Django's admin classes are not subscriptable at run time
    _ModelAdmin = admin.ModelAdmin
    _Inline = admin.TabularInline

# Beyond this many matching rows the list says "more than" instead of counting.
COUNT_CAP = 10_000
# An action cancels or retries one job at a time: at most this many at once.
MAX_ACTION_JOBS = 1_000
# The confirmation page names this many of the selected jobs.
CONFIRM_SAMPLE = 50


class CappedCountPaginator(Paginator):  # type: ignore[type-arg]
    """Counts at most ``COUNT_CAP + 1`` rows: ``COUNT(*)`` of a million rows on every
    page view costs more than the page itself. Pages past the cap are not offered;
    filters narrow the list instead."""

    @cached_property
    def count(self) -> int:
        jobs: QuerySet[Any] = self.object_list  # type: ignore[assignment]
        # Only the ids: the list's annotations (latest message) would otherwise be
        # computed for every counted row on SQLite.
        return int(jobs.order_by().values("pk")[: COUNT_CAP + 1].count())

    cap = COUNT_CAP

    @property
    def is_capped(self) -> bool:
        return self.count > COUNT_CAP


class TypedFilter(admin.SimpleListFilter):
    """A filter whose value is typed in (a dotted job name, an alias, a tag), not
    picked from values read out of the table. Applied with the API's own filters."""

    template = "job_status/admin/typed_filter.html"
    help_text: Any = ""

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("", "")]  # never listed; the template draws a text box

    def has_output(self) -> bool:
        return True

    def choices(self, changelist: Any) -> Any:
        # One "choice": what the text box needs, and the list's other filters to
        # keep when it is submitted.
        others = [
            (key, value)
            for key, values in changelist.params.items()
            if key not in (self.parameter_name, "p")
            for value in (values if isinstance(values, list) else [values])
        ]
        yield {"value": self.value() or "", "others": others, "help_text": self.help_text}

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        value = self.value()
        if not value:
            return queryset
        try:
            params = QueryDict(mutable=True)
            params.setlist(str(self.parameter_name), [value])
            return filter_jobs(queryset, params)  # type: ignore[arg-type]
        except BadFilter as exc:
            messages.error(request, str(exc))
            return queryset.none()


class JobFilter(TypedFilter):
    title = _("job (dotted name)")
    parameter_name = "job"


class AliasFilter(TypedFilter):
    title = _("alias")
    parameter_name = "alias"


class TagFilter(TypedFilter):
    title = _("tag")
    parameter_name = "tag"
    help_text = _('key, key=value or key>=5; 5 is a number, "5" a string; "a<b"=5 quotes a key')


class ReadOnlyInline(_Inline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Part of the job's record: whoever may see the job sees its timeline and messages.
        user = request.user
        return bool(user.has_perm(VIEW_ALL) or user.has_perm(CONTROL_ALL))


class TimelineInline(ReadOnlyInline):
    model = JobTransition
    verbose_name_plural = _("timeline")
    fields = ("at", "event", "attempt", "exception_type", "exception_message", "note", "traceback")
    readonly_fields = fields


class MessageInline(ReadOnlyInline):
    model = JobMessage
    fields = ("created_at", "level", "text")
    readonly_fields = fields


@admin.register(JobStatus)
class JobStatusAdmin(_ModelAdmin):
    list_display = (
        "task_id",
        "status_label",
        "progress_bar",
        "job",
        "alias",
        "tag_list",
        "queued_at",
        "runtime_seconds",
        "outcome",
    )
    list_filter = ("status", JobFilter, AliasFilter, TagFilter, "queued_at")
    search_fields = ("=task_id",)
    search_help_text = _("The exact task id.")
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # facet counts would count the whole table
    paginator = CappedCountPaginator
    list_per_page = 50
    actions = ("cancel_jobs", "retry_jobs")
    inlines = (TimelineInline, MessageInline)
    readonly_fields = (
        "task_id",
        "job",
        "alias",
        "status",
        "attempts",
        "progress_bar",
        "tag_list",
        "queue",
        "queued_at",
        "started_at",
        "finished_at",
        "runtime_seconds",
        "exception_type",
        "exception_message",
        "cancel_requested_at",
        "dispatched_by",
        "is_public",
        "retry_of",
        "parent_id",
        "root_id",
        "group_id",
        "worker",
        "time_limit",
        "arguments",
    )
    fields = readonly_fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[JobStatus], search_term: str
    ) -> tuple[QuerySet[JobStatus], bool]:
        # An exact, case-sensitive match, which the unique index answers (Django's
        # "=task_id" would be a case-insensitive one, which reads the whole table).
        term = search_term.strip()
        if not term:
            return queryset, False
        if "\x00" in term:
            return queryset.none(), False  # no task id has one; PostgreSQL refuses NUL
        return queryset.filter(task_id=normalize_task_id(term)), False

    def get_queryset(self, request: HttpRequest) -> QuerySet[JobStatus]:
        # Tags in one more query, the latest message in the same one: none per row.
        return with_latest_message(super().get_queryset(request))  # type: ignore[arg-type]

    # Records are written by the engines only: nobody adds, edits or deletes them here.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Without an object, Django asks whether the actions may run.
        return obj is None and super().has_change_permission(request)

    @admin.display(description=_("status"), ordering="status")
    def status_label(self, job: JobStatus) -> str:
        return format_html(
            '<span class="job-status job-status-{}">{}</span>', job.status, job.get_status().label
        )

    @admin.display(description=_("progress"))
    def progress_bar(self, job: JobStatus) -> str:
        if job.progress is None:
            return "-"
        return format_html(
            '<progress max="100" value="{}" title="{}%"></progress> {}%',
            job.progress,
            round(job.progress, 1),
            round(job.progress, 1),
        )

    @admin.display(description=_("tags"))
    def tag_list(self, job: JobStatus) -> str:
        # From the prefetched tags: no query per row.
        return format_html_join(", ", "{}", ((str(tag),) for tag in job.tags.all())) or "-"

    @admin.display(description=_("exception or latest message"))
    def outcome(self, job: JobStatus) -> str:
        if job.exception_type:
            return f"{job.exception_type.rpartition('.')[2]}: {job.exception_message}"[:200]
        return (getattr(job, "latest_message_text", None) or "-")[:200]

    @admin.display(description=_("runtime (s)"))
    def runtime_seconds(self, job: JobStatus) -> str:
        runtime = job.runtime
        return f"{runtime.total_seconds():.2f}" if runtime is not None else "-"

    def _confirmed(
        self, request: HttpRequest, jobs: QuerySet[JobStatus], action: str, verb: str
    ) -> HttpResponse | None:
        """The confirmation page, until the user has confirmed; then ``None``.

        With "select all" the page posts the selection back as such (the list's
        filters are in its URL), never as one field per job."""
        count = jobs.order_by().values("pk")[: MAX_ACTION_JOBS + 1].count()
        if count > MAX_ACTION_JOBS:
            self.message_user(
                request,
                _("At most %(limit)d jobs at a time: narrow the list down with filters.")
                % {"limit": MAX_ACTION_JOBS},
                messages.ERROR,
            )
            return HttpResponseRedirect(request.get_full_path())
        if request.POST.get("confirmed") == "yes":
            return None
        select_across = request.POST.get("select_across") == "1"
        return TemplateResponse(
            request,
            "admin/job_status/jobstatus/confirm_action.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Are you sure?"),
                "opts": self.model._meta,
                "count": count,
                "sample": jobs[:CONFIRM_SAMPLE],
                "more": max(0, count - CONFIRM_SAMPLE),
                "ids": [] if select_across else [job.pk for job in jobs],
                "select_across": select_across,
                "action": action,
                "verb": verb,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description=_("Cancel the selected jobs"), permissions=["change"])
    def cancel_jobs(self, request: HttpRequest, jobs: QuerySet[JobStatus]) -> HttpResponse | None:
        confirmation = self._confirmed(request, jobs, "cancel_jobs", "cancel")
        if confirmation is not None:
            return confirmation
        cancelled = stopping = finished = 0
        failures = []
        for job in jobs:
            try:
                if job.has_finished():
                    finished += 1
                elif cancel_job(job):
                    cancelled += 1
                else:
                    stopping += 1
            except SteeringFailed as exc:
                # One job's failure (the broker down) must not leave the others
                # untouched and unreported: say where this one stands, go on.
                failures.append(str(exc))
        report = [
            ngettext("%d job cancelled.", "%d jobs cancelled.", cancelled) % cancelled,
        ]
        if stopping:
            report.append(
                ngettext(
                    "%d running job will stop at its next check.",
                    "%d running jobs will stop at their next check.",
                    stopping,
                )
                % stopping
            )
        if finished:
            report.append(
                ngettext(
                    "%d job had finished and was left alone.",
                    "%d jobs had finished and were left alone.",
                    finished,
                )
                % finished
            )
        self.message_user(request, " ".join(report), messages.SUCCESS)
        for failure in failures:
            self.message_user(request, failure, messages.ERROR)
        return None

    @admin.action(description=_("Retry the selected jobs"), permissions=["change"])
    def retry_jobs(self, request: HttpRequest, jobs: QuerySet[JobStatus]) -> HttpResponse | None:
        confirmation = self._confirmed(request, jobs, "retry_jobs", "retry")
        if confirmation is not None:
            return confirmation
        # Each job's outcome by name: after a partial failure, the operator must
        # know which jobs were dispatched again, so that none is retried twice.
        dispatched: list[str] = []
        trouble: list[tuple[int, str]] = []
        for job in jobs:
            try:
                retried = retry_job(job)
            except CannotRetry as exc:
                trouble.append((messages.WARNING, str(exc)))
            except SteeringFailed as exc:
                trouble.append((messages.ERROR, str(exc)))
            else:
                dispatched.append(
                    _("Job %(old)s dispatched again as %(new)s.")
                    % {"old": job.task_id, "new": retried.task_id}
                )
        if dispatched:
            self.message_user(
                request,
                ngettext("%d job dispatched again.", "%d jobs dispatched again.", len(dispatched))
                % len(dispatched),
                messages.SUCCESS,
            )
        for line in dispatched:
            self.message_user(request, line, messages.INFO)
        for level, reason in trouble:
            self.message_user(request, reason, level)
        return None
