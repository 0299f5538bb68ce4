"""The Celery app of the test suite, shared by the test process and its worker."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

app = Celery("tests")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Celery's Django fix-up reads this key as it is (closing connections around
# every task unless it is set); a worker of the tests can be asked to keep them.
if os.environ.get("JOB_STATUS_TEST_DB_REUSE_MAX"):
    app.conf.CELERY_DB_REUSE_MAX = int(os.environ["JOB_STATUS_TEST_DB_REUSE_MAX"])
# A worker of the tests can be asked to replace each pool process after N tasks.
if os.environ.get("JOB_STATUS_TEST_MAX_TASKS_PER_CHILD"):
    app.conf.worker_max_tasks_per_child = int(os.environ["JOB_STATUS_TEST_MAX_TASKS_PER_CHILD"])
