"""System checks for the app's settings: a misconfiguration is reported at
start-up (``manage.py check``), not discovered later as silently missing rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register


@register()
def check_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    track_all = getattr(settings, "JOB_STATUS_TRACK_ALL_TASKS", False)
    if not isinstance(track_all, bool):
        errors.append(
            Error(
                f"JOB_STATUS_TRACK_ALL_TASKS must be True or False, not {track_all!r}.",
                id="job_status.E001",
            )
        )
    exclude = getattr(settings, "JOB_STATUS_TRACK_ALL_EXCLUDE", ("celery.",))
    if isinstance(exclude, str) or not all(isinstance(prefix, str) for prefix in exclude):
        errors.append(
            Error(
                "JOB_STATUS_TRACK_ALL_EXCLUDE must be a list or tuple of task name prefixes, "
                f"not {exclude!r}.",
                hint='For example: ["celery.", "myapp.tasks.heartbeat"].',
                id="job_status.E002",
            )
        )
    database = getattr(settings, "JOB_STATUS_DATABASE", None)
    if database is not None and database not in settings.DATABASES:
        errors.append(
            Error(
                f"JOB_STATUS_DATABASE is {database!r}, which is not an alias in DATABASES.",
                hint="Add a second alias for the same database, or remove the setting.",
                id="job_status.E003",
            )
        )
    return errors
