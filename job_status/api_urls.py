"""The JSON API alone: ``path("jobs/", include("job_status.api_urls"))``."""

from django.urls import path

from job_status.views import api

app_name = "job_status"

urlpatterns = [
    path("api/jobs/", api.job_list, name="api-jobs"),
    path("api/jobs/<str:task_id>/", api.job_view, name="api-job"),
    path("api/jobs/<str:task_id>/cancel/", api.job_cancel, name="api-job-cancel"),
    path("api/jobs/<str:task_id>/retry/", api.job_retry, name="api-job-retry"),
]
