"""Tracking every task (``JOB_STATUS_TRACK_ALL_TASKS``), with Celery's own tasks left out."""

import pytest
from django.test import override_settings

from job_status.models import JobStatus
from tests.celery_app import app
from tests.helpers import assert_times_in_order, wait_for_finish
from tests.testapp import tasks


@pytest.mark.worker
def test_untracked_task_sent_by_name_is_tracked_when_tracking_all(track_all_worker):
    with override_settings(JOB_STATUS_TRACK_ALL_TASKS=True):
        result = app.send_task("tests.testapp.tasks.untracked_add", args=(2, 3), queue="track-all")
        assert JobStatus.objects.get(task_id=result.id).status == "queued"

    job = wait_for_finish(result.id)
    assert (job.job, job.status, job.queue) == (
        "tests.testapp.tasks.untracked_add",
        "succeeded",
        "track-all",
    )
    assert_times_in_order(job)


@pytest.mark.django_db(transaction=True)
def test_untracked_task_is_not_tracked_by_default():
    result = tasks.untracked_add.apply_async((1, 2), queue="nobody-listens")

    assert not JobStatus.objects.filter(task_id=result.id).exists()


@pytest.mark.django_db(transaction=True)
@override_settings(JOB_STATUS_TRACK_ALL_TASKS=True)
def test_celery_own_tasks_are_excluded_by_default():
    app.send_task("celery.backend_cleanup", queue="nobody-listens")
    result = app.send_task("tests.testapp.tasks.untracked_add", args=(1, 2), queue="nobody-listens")

    assert list(JobStatus.objects.values_list("task_id", flat=True)) == [result.id]


@pytest.mark.django_db(transaction=True)
@override_settings(JOB_STATUS_TRACK_ALL_TASKS=True, JOB_STATUS_TRACK_ALL_EXCLUDE=["tests.testapp."])
def test_exclusions_are_configurable():
    app.send_task("tests.testapp.tasks.untracked_add", args=(1, 2), queue="nobody-listens")
    app.send_task("celery.backend_cleanup", queue="nobody-listens")

    assert JobStatus.objects.get().job == "celery.backend_cleanup"


@pytest.mark.worker
def test_tracked_task_sent_by_name_is_tracked_by_the_worker(worker):
    """No headers travel with send_task; the worker falls back to the task class."""
    result = app.send_task("tests.testapp.tasks.add", args=(4, 5))

    job = wait_for_finish(result.id)
    assert (job.status, job.alias) == ("succeeded", "adder")
    assert {tag.key: tag.value for tag in job.tags.all()} == {"first": 4, "nightly": None}


@pytest.mark.django_db(transaction=True)
def test_tracked_task_sent_by_name_gets_its_queued_row_at_dispatch():
    result = app.send_task("tests.testapp.tasks.add", args=(6, 1), queue="nobody-listens")

    job = JobStatus.objects.get(task_id=result.id)
    assert (job.status, job.alias) == ("queued", "adder")
    assert {tag.key: tag.value for tag in job.tags.all()} == {"first": 6, "nightly": None}
