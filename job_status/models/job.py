"""The record of a tracked job."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _

from job_status import statuses
from job_status.laravel import LaravelModelAliases
from job_status.query import JobStatusQuerySet
from job_status.statuses import FINISHED, RUNNING, Status


class JobStatus(LaravelModelAliases, models.Model):
    """One row per dispatched job, keyed by the engine's task id.

    Retries and redeliveries of a task id update this row; they never add one.
    Times are set explicitly by the recorder (never ``auto_now``) and kept in
    the order queued ≤ started ≤ finished even when they come from hosts whose
    clocks disagree.
    """

    Status = Status

    task_id = models.CharField(_("task id"), max_length=255, unique=True)
    job = models.CharField(
        _("job"), max_length=255, help_text=_("The task's dotted name, as it was published.")
    )
    alias = models.CharField(_("alias"), max_length=255, blank=True, default="")
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.QUEUED
    )
    queue = models.CharField(_("queue"), max_length=255, blank=True, default="")
    attempts = models.PositiveIntegerField(
        _("attempts"),
        default=1,
        help_text=_("The attempt the status belongs to; a retry waiting in the queue counts."),
    )
    status_is_provisional = models.BooleanField(
        default=False,
        help_text=_(
            "An end presumed from a lost worker or by the reaper, which a real outcome may replace."
        ),
    )
    queued_at = models.DateTimeField(_("queued at"))
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    exception_type = models.CharField(_("exception type"), max_length=255, blank=True, default="")
    exception_message = models.TextField(_("exception message"), blank=True, default="")
    progress = models.FloatField(
        _("progress"),
        null=True,
        blank=True,
        help_text=_("Percent done, 0 to 100, as the job reported it."),
    )
    progress_current = models.BigIntegerField(null=True, blank=True)
    progress_total = models.BigIntegerField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(
        _("cancel requested at"),
        null=True,
        blank=True,
        help_text=_("When a cancel was asked for; the status says whether it happened."),
    )
    arguments = models.JSONField(
        _("arguments"),
        null=True,
        blank=True,
        encoder=DjangoJSONEncoder,
        help_text=_("The call's args and kwargs, kept so that retry() can dispatch it again."),
    )
    retry_of = models.ForeignKey(
        "self",
        to_field="task_id",
        db_column="retry_of_task_id",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="retried_by",
        verbose_name=_("retry of"),
    )
    parent_id = models.CharField(_("parent task id"), max_length=255, blank=True, default="")
    root_id = models.CharField(_("root task id"), max_length=255, blank=True, default="")
    group_id = models.CharField(
        _("group id"),
        max_length=255,
        blank=True,
        default="",
        help_text=_("The batch (group or chord) the job belongs to."),
    )
    dispatched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        # No database constraint: the id comes from the message, and a user
        # deleted before the worker writes the row must not cost the record.
        db_constraint=False,
        related_name="+",
        verbose_name=_("dispatched by"),
        help_text=_("The signed-in user whose request dispatched the job."),
    )
    is_public = models.BooleanField(
        _("public"),
        default=False,
        help_text=_("Visible to every user of the API and the widgets, not only its dispatcher."),
    )
    worker = models.CharField(_("worker"), max_length=255, blank=True, default="")
    time_limit = models.FloatField(
        _("time limit"),
        null=True,
        blank=True,
        help_text=_("Hard time limit of the current attempt, in seconds."),
    )

    objects: ClassVar[JobStatusQuerySet] = JobStatusQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("job status")
        verbose_name_plural = _("job statuses")
        # Newest dispatch first, so Django's own first() is the seed's
        # "most recently dispatched job".
        ordering = ["-queued_at", "-id"]
        indexes = [
            models.Index(fields=["job", "-queued_at"], name="job_status_job_queued_idx"),
            models.Index(fields=["alias", "-queued_at"], name="job_status_alias_queued_idx"),
            models.Index(fields=["status", "-queued_at"], name="job_status_status_queued_idx"),
            models.Index(fields=["-queued_at", "-id"], name="job_status_queued_idx"),
            models.Index(fields=["group_id"], name="job_status_group_idx"),
            # A user's own jobs and the public ones (the API's list): two index
            # scans joined, instead of reading the table in queued order.
            models.Index(fields=["dispatched_by", "-queued_at"], name="job_status_dispatcher_idx"),
            models.Index(
                fields=["-queued_at"],
                condition=models.Q(is_public=True),
                name="job_status_public_idx",
            ),
            models.Index(fields=["status", "started_at"], name="job_status_status_started_idx"),
            # For pruning: old finished rows, without reading the rest of the table.
            models.Index(
                fields=["finished_at"],
                condition=models.Q(status__in=["succeeded", "failed", "cancelled"]),
                name="job_status_finished_idx",
            ),
        ]

    def __str__(self) -> str:
        label = self.alias or self.job
        return f"{label} [{self.task_id}] {self.status}"

    def get_status(self) -> statuses.Status:
        return statuses.Status(self.status)

    def was_successful(self) -> bool:
        return self.status == Status.SUCCEEDED

    def has_finished(self) -> bool:
        return self.status in FINISHED

    def is_running(self) -> bool:
        return self.status in RUNNING

    @property
    def runtime(self) -> timedelta | None:
        """How long the last attempt ran; ``None`` until the job has finished after starting."""
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    # -- steering from outside (see job_status.control) -----------------------

    def cancel(self, *, terminate: bool = False) -> bool:
        """Ask for this job to be cancelled; ``True`` if it is cancelled now.

        A queued job is cancelled at once and never runs; a running one stops
        at its next check; ``terminate=True`` also kills it on the worker.
        """
        from job_status import control

        return control.cancel(self, terminate=terminate)

    def retry(self) -> JobStatus:
        """Dispatch this failed or cancelled job again; return the new, linked record."""
        from job_status import control

        return control.retry(self)

    def send_signal(self, name: str, parameters: dict[str, Any] | None = None) -> None:
        """Send a custom signal that the running job handles when it checks."""
        from job_status import control

        control.send_signal(self, name, parameters)

    # -- messages ---------------------------------------------------------------

    def get_messages(self, level: str | None = None) -> models.QuerySet[Any]:
        """The job's messages, oldest first; only those of ``level`` if given."""
        from job_status.running import parse_level

        messages = self.messages.all()
        return messages if level is None else messages.filter(level=parse_level(level))

    def latest_message(self) -> Any:
        """The most recent message that is not a debug message, or ``None``."""
        return self.messages.exclude(level="debug").order_by("-created_at", "-id").first()

    @property
    def was_cancel_requested(self) -> bool:
        return self.cancel_requested_at is not None

    @property
    def wait_time(self) -> timedelta | None:
        """How long the job waited between its first dispatch and its latest start."""
        if self.started_at is None:
            return None
        return self.started_at - self.queued_at
