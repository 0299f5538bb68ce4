"""What hangs off a job's record: tags, messages, its timeline and signals sent to it."""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _

from job_status.models.job import JobStatus
from job_status.statuses import Status
from job_status.tags import StoredTag, TagValue


def keyed_by_task_id(related_name: str) -> models.ForeignKey[JobStatus, JobStatus]:
    """The link to the job's row by its task id, so that a running job writes
    without looking its row up. Not indexed alone: each model's composite index
    starts with it."""
    return models.ForeignKey(
        JobStatus,
        to_field="task_id",
        db_column="task_id",
        db_index=False,
        on_delete=models.CASCADE,
        related_name=related_name,
    )


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
    def value(self) -> TagValue:
        return StoredTag(self.key, self.value_type, self.string_value, self.number_value).value


class JobMessage(models.Model):
    """A message a job sent about itself, with a level."""

    class Level(models.TextChoices):
        DEBUG = "debug", _("Debug")
        INFO = "info", _("Info")
        SUCCESS = "success", _("Success")
        WARNING = "warning", _("Warning")
        ERROR = "error", _("Error")

    job_status = keyed_by_task_id(related_name="messages")
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


class JobTransition(models.Model):
    """One entry of a job's timeline: a status it reached, or an attempt that failed and
    will be retried, with the attempt number, the time and, for failures, the exception."""

    RETRYING = "retrying"
    EVENTS = [*Status.choices, (RETRYING, _("Failed, will retry"))]

    job_status = keyed_by_task_id(related_name="timeline")
    event = models.CharField(max_length=16, choices=EVENTS)
    attempt = models.PositiveIntegerField(null=True, blank=True)
    at = models.DateTimeField()
    exception_type = models.CharField(max_length=255, blank=True, default="")
    exception_message = models.TextField(blank=True, default="")
    traceback = models.TextField(blank=True, default="")
    note = models.TextField(blank=True, default="", help_text=_("Why, when it is not obvious."))

    class Meta:
        verbose_name = _("job transition")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["job_status", "at"], name="job_status_timeline_idx")]

    def __str__(self) -> str:
        attempt = f" (attempt {self.attempt})" if self.attempt else ""
        return f"{self.event}{attempt} at {self.at:%Y-%m-%d %H:%M:%S}"


class JobSignal(models.Model):
    """A signal sent to a running job, with parameters; the job handles it when it checks."""

    job_status = keyed_by_task_id(related_name="signals")
    name = models.CharField(max_length=100)
    parameters = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    sent_at = models.DateTimeField()
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("job signal")
        ordering = ["sent_at", "id"]
        indexes = [
            models.Index(fields=["job_status", "handled_at"], name="job_status_signal_pending_idx")
        ]

    def __str__(self) -> str:
        return f"{self.name}({self.parameters})"
