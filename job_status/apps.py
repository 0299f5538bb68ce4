from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class JobStatusConfig(AppConfig):
    name = "job_status"
    verbose_name = _("Job statuses")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from job_status import checks  # noqa: F401  (registers the checks)
