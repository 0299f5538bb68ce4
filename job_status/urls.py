"""The dashboard and the JSON API: ``path("jobs/", include("job_status.urls"))``
serves the dashboard at ``jobs/`` and the API under ``jobs/api/``. Include
``job_status.api_urls`` instead for the API alone."""

from django.urls import path

from job_status.api_urls import urlpatterns as api_urlpatterns
from job_status.views.dashboard import dashboard

app_name = "job_status"

urlpatterns = [
    path("", dashboard, name="dashboard"),
    *api_urlpatterns,
]
