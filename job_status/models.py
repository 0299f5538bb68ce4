"""The record of a tracked job, with its tags and messages."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from job_status import statuses
from job_status.laravel import LaravelModelAliases
from job_status.query import JobStatusQuerySet
from job_status.statuses import FINISHED, RUNNING, Status
from job_status.tags import StoredTag


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
        help_text=_("A failure presumed from a lost worker, which a real outcome may replace."),
    )
    queued_at = models.DateTimeField(_("queued at"))
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    exception_type = models.CharField(_("exception type"), max_length=255, blank=True, default="")
    exception_message = models.TextField(_("exception message"), blank=True, default="")

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

    @property
    def wait_time(self) -> timedelta | None:
        """How long the job waited between its first dispatch and its latest start."""
        if self.started_at is None:
            return None
        return self.started_at - self.queued_at


class JobTag(models.Model):
    """A tag of a job: a key with a typed value, or a bare label.

    The value is split into typed columns so that ``where_tag`` compares
    numbers as numbers and strings as strings, with an index on each.
    """

    job_status = models.ForeignKey(JobStatus, on_delete=models.CASCADE, related_name="tags")
    key = models.CharField(max_length=100)
    value_type = models.CharField(max_length=8)
    # NULL, not "", when the tag is not a string: an empty string is a real value.
    string_value = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    number_value = models.FloatField(null=True, blank=True)

    class Meta:
        verbose_name = _("job tag")
        constraints = [
            models.UniqueConstraint(fields=["job_status", "key"], name="job_status_tag_unique_key")
        ]
        indexes = [
            models.Index(fields=["key", "string_value"], name="job_status_tag_string_idx"),
            models.Index(fields=["key", "number_value"], name="job_status_tag_number_idx"),
        ]

    def __str__(self) -> str:
        if self.value_type == "label":
            return self.key
        return f"{self.key}={self.value!r}"

    @property
    def value(self) -> object:
        return StoredTag(self.key, self.value_type, self.string_value, self.number_value).value


class JobMessage(models.Model):
    """A message a job sent about itself, with a level."""

    class Level(models.TextChoices):
        DEBUG = "debug", _("Debug")
        INFO = "info", _("Info")
        SUCCESS = "success", _("Success")
        WARNING = "warning", _("Warning")
        ERROR = "error", _("Error")

    job_status = models.ForeignKey(JobStatus, on_delete=models.CASCADE, related_name="messages")
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.INFO)
    text = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("job message")
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["job_status", "created_at"], name="job_status_message_time_idx"),
        ]

    def __str__(self) -> str:
        return f"[{self.level}] {self.text}"
