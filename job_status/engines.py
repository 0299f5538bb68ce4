"""The engine a project runs its jobs on, as the core sees it.

The core never imports Celery. An engine (``job_status.contrib.celery``)
registers itself when its app is ready, and the core asks it to revoke or to
dispatch again through this small interface.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from job_status.models import JobStatus


class Engine(Protocol):
    def revoke(self, task_id: str, *, terminate: bool = False) -> None:
        """Ask the workers not to run ``task_id`` (best effort), or to kill it if ``terminate``."""

    def redispatch(self, job: JobStatus) -> str:
        """Dispatch ``job`` again with its stored arguments; return the new task id."""


_engine: Engine | None = None


def register_engine(engine: Engine) -> None:
    global _engine
    _engine = engine


def get_engine() -> Engine:
    if _engine is None:
        raise ImproperlyConfigured(
            "No job engine is registered: add 'job_status.contrib.celery' to INSTALLED_APPS."
        )
    return _engine
