"""The benchmark's Celery app, shared by ``overhead.py`` and its worker."""

import os

from celery import Celery

import benchproject.worker_hooks  # noqa: F401  (timing in the worker's pool processes)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchproject.settings")

app = Celery("bench", include=["benchproject.tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")
