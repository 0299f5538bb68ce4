"""URLs of bench/million.py's Django project: the admin and the JSON API."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("job_status.api_urls")),
]
