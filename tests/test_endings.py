"""Endings without a signal, or with an odd one; dispatch on commit (cases L8(c), L11)."""

import time

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from job_status.models import JobStatus
from job_status.recording import cancel_if_queued
from tests.celery_app import app
from tests.conftest import wait_until
from tests.helpers import wait_for_finish
from tests.testapp import tasks

pytestmark = pytest.mark.worker


class Rollback(Exception):
    pass


def test_delay_on_commit_with_rollback_leaves_no_row_and_no_run(worker):
    """L8(c)."""
    handles = []

    def dispatch_then_roll_back():
        with transaction.atomic():
            handles.append(tasks.add.delay_on_commit(1, 2))
            raise Rollback

    with pytest.raises(Rollback):
        dispatch_then_roll_back()
    time.sleep(1.5)

    assert not JobStatus.objects.filter(task_id=handles[0].id).exists()
    assert handles[0].id not in worker.output()


def test_delay_on_commit_gives_a_handle_before_the_commit(worker):
    """L8(c): the id is known at once; the row and the run follow the commit."""
    with transaction.atomic():
        handle = tasks.add.delay_on_commit(1, 2)
        assert not JobStatus.objects.filter(task_id=handle.id).exists()

    assert wait_for_finish(handle.id).status == "succeeded"


def test_unregistered_task_name_ends_failed(track_all_worker):
    """L11: the row keeps the published name and says the task is not registered."""
    with override_settings(JOB_STATUS_TRACK_ALL_TASKS=True):
        result = app.send_task("tests.testapp.tasks.old_name", args=(1,), queue="track-all")

    job = wait_for_finish(result.id)
    assert (job.job, job.status) == ("tests.testapp.tasks.old_name", "failed")
    assert job.exception_type == "celery.exceptions.NotRegistered"
    assert "not registered" in job.exception_message
    assert "no task registered" in job.timeline.last().note


def test_unregistered_task_recorded_by_the_worker_alone_keeps_its_arguments(track_all_worker):
    """The publisher tracks nothing here: the worker builds the row from the message
    alone, arguments included (a retry() with none would be another call)."""
    result = app.send_task(
        "tests.testapp.tasks.old_name", args=(1, 2), kwargs={"k": 3}, queue="track-all"
    )

    job = wait_for_finish(result.id)
    assert (job.status, job.exception_type) == ("failed", "celery.exceptions.NotRegistered")
    assert job.arguments == {"args": [1, 2], "kwargs": {"k": 3}}


def test_job_cancelled_before_start_never_runs_even_if_the_revoke_is_lost(doomed_worker):
    result = tasks.reporting.apply_async(
        kwargs={"steps": 1, "pause": 0}, queue="doomed", countdown=2
    )
    wait_until(lambda: result.id in doomed_worker.output())  # the worker holds the message
    JobStatus.objects.filter(task_id=result.id).update(cancel_requested_at=timezone.now())
    assert cancel_if_queued(result.id, note="revoke lost on purpose")  # no revoke sent

    time.sleep(3)  # past the countdown: the worker takes the message

    job = JobStatus.objects.get(task_id=result.id)
    assert (job.status, job.started_at) == ("cancelled", None)
    assert not job.messages.exists()  # the body never ran
    assert "reporting" in doomed_worker.output()
