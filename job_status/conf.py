"""The app's settings, read from ``django.conf.settings`` on every access.

Reading late (never at import time) keeps ``override_settings`` working in tests.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings as django_settings


class JobStatusSettings:
    @property
    def TRACK_ALL_TASKS(self) -> bool:
        """Track every task, not only tracked tasks; default ``False``."""
        return bool(getattr(django_settings, "JOB_STATUS_TRACK_ALL_TASKS", False))

    @property
    def TRACK_ALL_EXCLUDE(self) -> Sequence[str]:
        """Name prefixes that tracking every task leaves out; default ``["celery."]``
        (Celery's own tasks, such as ``celery.chord_unlock``, which retries every second)."""
        exclude = getattr(django_settings, "JOB_STATUS_TRACK_ALL_EXCLUDE", ("celery.",))
        # A lone string would otherwise be read as a list of one-letter prefixes
        # (system check job_status.E002 reports it).
        return (exclude,) if isinstance(exclude, str) else tuple(exclude)


app_settings = JobStatusSettings()
