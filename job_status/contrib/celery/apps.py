from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class JobStatusCeleryConfig(AppConfig):
    """Records Celery jobs: add after ``"job_status"`` in ``INSTALLED_APPS``."""

    name = "job_status.contrib.celery"
    label = "job_status_celery"
    verbose_name = _("Job statuses for Celery")

    def ready(self) -> None:
        from job_status.contrib.celery import handlers
        from job_status.contrib.celery.engine import CeleryEngine
        from job_status.engines import register_engine

        handlers.connect()
        register_engine(CeleryEngine())
