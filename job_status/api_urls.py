"""The JSON API alone: ``path("jobs/", include("job_status.api_urls"))``.

Task ids are any strings, ``/`` included (Celery never restricts them), so the
id is a ``path``. The actions come first: ``<id>/cancel/`` is the cancel of
``<id>``, and a GET on it (never a cancel) is the detail of a job whose id ends
in ``/cancel``, if there is one (``api._read_on_action_url``)."""

from django.urls import path

from job_status.views import api

app_name = "job_status"

urlpatterns = [
    path("api/jobs/", api.job_list, name="api-jobs"),
    path("api/jobs/<path:task_id>/cancel/", api.job_cancel, name="api-job-cancel"),
    path("api/jobs/<path:task_id>/retry/", api.job_retry, name="api-job-retry"),
    path("api/jobs/<path:task_id>/", api.job_view, name="api-job"),
]
