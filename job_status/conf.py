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

    @property
    def PROGRESS_INTERVAL(self) -> float:
        """Seconds between two progress writes of one job; default 1. The last value
        is always written when the job ends."""
        return float(getattr(django_settings, "JOB_STATUS_PROGRESS_INTERVAL", 1.0))

    @property
    def CANCEL_POLL_INTERVAL(self) -> float:
        """Seconds a running job trusts its cached cancel flag (and signals) before
        reading them again; default 1."""
        return float(getattr(django_settings, "JOB_STATUS_CANCEL_POLL_INTERVAL", 1.0))

    @property
    def STORE_ARGUMENTS(self) -> bool:
        """Keep each job's arguments so that ``retry()`` can dispatch it again; default True."""
        return bool(getattr(django_settings, "JOB_STATUS_STORE_ARGUMENTS", True))

    @property
    def STALE_AFTER(self) -> float:
        """Seconds after which the reaper fails a job still ``started`` with no time
        limit of its own; default 3600."""
        return float(getattr(django_settings, "JOB_STATUS_STALE_AFTER", 3600.0))

    @property
    def REAP_GRACE(self) -> float:
        """Seconds the reaper waits past a job's own hard time limit before failing it;
        default 60 (the worker's own report usually comes first)."""
        return float(getattr(django_settings, "JOB_STATUS_REAP_GRACE", 60.0))

    @property
    def DATABASE(self) -> str | None:
        """The database alias for status writes; default ``None``: the router's choice.

        A second alias to the same database (a separate connection) makes a job's
        progress and messages visible while the job's own transaction is open."""
        return getattr(django_settings, "JOB_STATUS_DATABASE", None)

    @property
    def WRITER_THREAD(self) -> bool:
        """Write a worker process's status events on a thread of their own, with a
        connection kept for the life of the process; default ``True``. ``False``:
        on the job's own thread, which Celery reconnects for every job."""
        return bool(getattr(django_settings, "JOB_STATUS_WRITER_THREAD", True))

    @property
    def ANONYMOUS_SEES_PUBLIC(self) -> bool:
        """Let anonymous requests see public jobs in the API and widgets; default
        ``False`` (they get 403)."""
        return bool(getattr(django_settings, "JOB_STATUS_ANONYMOUS_SEES_PUBLIC", False))

    @property
    def POLL_INTERVAL(self) -> float:
        """Seconds between two refreshes of the dashboard and the widgets while
        their tab is visible; default 2."""
        return float(getattr(django_settings, "JOB_STATUS_POLL_INTERVAL", 2.0))


app_settings = JobStatusSettings()
