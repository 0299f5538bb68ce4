"""JOB_STATUS_DATABASE: status writes on a connection of their own, visible to others
while the job's own transaction is still open."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection, transaction
from django.test import override_settings

from job_status.models import JobStatus
from job_status.running import JobHandle
from tests.factories import make_job
from tests.helpers import read_elsewhere

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "status"])


def progress_seen_elsewhere(task_id):
    """The progress as another process would see it."""
    return read_elsewhere(
        lambda: JobStatus.objects.filter(task_id=task_id).values_list("progress", flat=True).get()
    )


def run_in_an_open_transaction(job):
    with transaction.atomic():
        if connection.vendor != "sqlite":
            # The job's own work, uncommitted (on SQLite it would lock the whole file).
            ContentType.objects.create(app_label="jobs", model="export")
        JobHandle(job.task_id).set_progress(40)
        return progress_seen_elsewhere(job.task_id)


@override_settings(JOB_STATUS_DATABASE="status")
def test_progress_is_visible_while_the_jobs_transaction_is_open():
    job = make_job("started")

    assert run_in_an_open_transaction(job) == 40


def test_without_it_progress_waits_for_the_commit():
    job = make_job("started")

    assert run_in_an_open_transaction(job) is None


@override_settings(JOB_STATUS_DATABASE="nowhere")
def test_e003_the_alias_must_exist():
    with pytest.raises(SystemCheckError, match=r"job_status\.E003"):
        call_command("check")
