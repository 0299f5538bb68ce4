"""Steering from outside, without a worker: cancel a queued job, refuse what cannot be done."""

import pytest

from job_status.control import CannotRetry, normalize_task_id
from job_status.models import JobStatus
from tests.factories import make_job
from tests.testapp import tasks

pytestmark = pytest.mark.django_db(transaction=True)

NOBODY = "nobody-listens"


def test_cancel_a_queued_job_at_once():
    result = tasks.add.apply_async((1, 2), queue=NOBODY)
    job = JobStatus.objects.get(task_id=result.id)

    assert job.cancel() is True

    assert (job.status, job.started_at) == ("cancelled", None)
    assert job.cancel_requested_at is not None
    assert job.finished_at is not None
    assert [(t.event, t.attempt) for t in job.timeline.all()] == [
        ("queued", 1),
        ("cancelled", 1),
    ]


def test_cancel_during_a_retry_wait_names_the_attempt_that_never_runs():
    job = make_job("queued")
    JobStatus.objects.filter(pk=job.pk).update(attempts=3)

    assert job.cancel() is True

    assert job.timeline.get(event="cancelled").attempt == 3


def test_cancel_a_finished_job_changes_nothing():
    job = make_job("succeeded")

    assert job.cancel() is False
    assert job.status == "succeeded"


def test_retry_refuses_jobs_that_did_not_fail():
    job = make_job("succeeded")

    with pytest.raises(CannotRetry, match="only failed or cancelled jobs"):
        job.retry()


def test_retry_without_stored_arguments_says_why(settings):
    settings.JOB_STATUS_STORE_ARGUMENTS = False
    result = tasks.add.apply_async((1, 2), queue=NOBODY)
    job = JobStatus.objects.get(task_id=result.id)
    job.cancel()

    assert job.arguments is None
    with pytest.raises(CannotRetry, match="no stored arguments"):
        job.retry()


def test_arguments_are_stored_at_dispatch_and_retry_links_the_new_record():
    result = tasks.add.apply_async((1, 2), queue=NOBODY, job_tags={"user": 3})
    job = JobStatus.objects.get(task_id=result.id)
    job.cancel()

    again = job.retry()

    assert job.arguments == {"args": [1, 2], "kwargs": {}}
    assert (again.status, again.retry_of_id, again.arguments) == (
        "queued",
        job.task_id,
        job.arguments,
    )
    assert {t.key: t.value for t in again.tags.all()} == {"first": 1, "nightly": None, "user": 3}
    assert again.alias == job.alias


def test_cancel_of_a_retry_not_yet_committed_says_so_and_works_after_the_commit():
    from django.db import transaction

    result = tasks.add.apply_async((1, 2), queue=NOBODY)
    job = JobStatus.objects.get(task_id=result.id)
    job.cancel()

    with transaction.atomic():
        again = job.retry()
        with pytest.raises(JobStatus.DoesNotExist, match=r"not recorded yet.*on_commit"):
            again.cancel()

    again = JobStatus.objects.get(task_id=again.task_id)
    assert again.cancel() is True
    assert again.status == "cancelled"


def test_signals_are_refused_when_nobody_will_handle_them():
    job = make_job("succeeded")
    with pytest.raises(ValueError, match="has finished"):
        job.send_signal("pause")
    running = make_job("started")
    with pytest.raises(ValueError, match="1 to 100 characters"):
        running.send_signal("")
    with pytest.raises(TypeError):
        running.send_signal("pause", {"when": object()})


def test_normalize_task_id():
    canonical = "0f4f7e07-5de2-4257-8f24-d9d431c23a1b"
    assert normalize_task_id(canonical.upper()) == canonical
    assert normalize_task_id(canonical.replace("-", "")) == canonical
    assert normalize_task_id("EXPORT-42") == "EXPORT-42"
