"""Every call and example of the seed page (../shared/seed/job-status.md), in Python,
run against rows made by real tracked jobs that a real worker process ran."""

from datetime import timedelta

import pytest
from django.utils import timezone

from job_status.collection import JobStatusCollection
from job_status.models import JobStatus
from tests.conftest import wait_until
from tests.helpers import wait_for_finish
from tests.testapp import tasks

pytestmark = pytest.mark.worker

NOBODY = "nobody-listens"


@pytest.fixture
def jobs(worker):
    """Two exports for election 5 (one succeeds, one is still queued), one for election 6,
    a failure, a cancelled (expired) job and a job running right now."""
    made = {
        "export5": tasks.export.delay(5),
        "export6": tasks.export.delay(6),
        "failed": tasks.fail.delay(),
        "cancelled": tasks.add.apply_async((1, 1), expires=timezone.now() - timedelta(seconds=1)),
    }
    for result in made.values():
        wait_for_finish(result.id)
    made["queued5"] = tasks.export.apply_async((5,), queue=NOBODY)
    made["running"] = tasks.sleep.delay(2)
    wait_until(
        lambda: JobStatus.objects.filter(task_id=made["running"].id, status="started").exists()
    )
    yield {name: JobStatus.objects.get(task_id=result.id) for name, result in made.items()}
    wait_for_finish(made["running"].id)


def test_the_rows_are_what_the_worker_made(jobs):
    assert {name: job.status for name, job in jobs.items()} == {
        "export5": "succeeded",
        "export6": "succeeded",
        "failed": "failed",
        "cancelled": "cancelled",
        "queued5": "queued",
        "running": "started",
    }


def test_filters(jobs):
    # forJob(Job::class)
    assert set(JobStatus.objects.for_job(tasks.export)) == {
        jobs["export5"],
        jobs["export6"],
        jobs["queued5"],
    }
    # forJobAlias('job-alias')
    assert set(JobStatus.objects.for_job_alias("export")) == {
        jobs["export5"],
        jobs["export6"],
        jobs["queued5"],
    }
    # whereTag('election', '=', $electionId)
    assert set(JobStatus.objects.where_tag("election", "=", 5)) == {
        jobs["export5"],
        jobs["queued5"],
    }
    # whereStatus(JobStatus::SUCCESS) or whereSuccess()
    succeeded = {jobs["export5"], jobs["export6"]}
    assert set(JobStatus.objects.where_status(JobStatus.Status.SUCCEEDED)) == succeeded
    assert set(JobStatus.objects.where_success()) == succeeded
    # whereNotStatus(JobStatus::SUCCESS) or whereNotSuccess(); can also pass an array
    others = set(jobs.values()) - succeeded
    assert set(JobStatus.objects.where_not_status(JobStatus.Status.SUCCEEDED)) == others
    assert set(JobStatus.objects.where_not_success()) == others
    assert set(JobStatus.objects.where_not_status(["succeeded", "failed"])) == others - {
        jobs["failed"]
    }
    # "Similar for all statuses"
    assert list(JobStatus.objects.where_queued()) == [jobs["queued5"]]
    assert list(JobStatus.objects.where_started()) == [jobs["running"]]
    assert list(JobStatus.objects.where_failed()) == [jobs["failed"]]
    assert list(JobStatus.objects.where_cancelled()) == [jobs["cancelled"]]
    # ... and they chain, as many as you like
    chained = (
        JobStatus.objects.for_job(tasks.export)
        .for_job_alias("export")
        .where_tag("election", "=", 5)
    )
    assert set(chained.where_success()) == {jobs["export5"]}


def test_results(jobs):
    exports = JobStatus.objects.for_job_alias("export").where_tag("election", "=", 5)
    # first(): the most recently dispatched matching job, or None
    assert exports.first() == jobs["queued5"]
    assert JobStatus.objects.for_job_alias("nothing").first() is None
    # firstOrFail(): or throw
    assert exports.where_success().first_or_fail() == jobs["export5"]
    with pytest.raises(JobStatus.DoesNotExist):
        exports.where_failed().first_or_fail()
    # all() or get(): every matching status, as a JobStatusCollection
    collection = exports.collect()
    assert isinstance(collection, JobStatusCollection)
    assert collection == [jobs["queued5"], jobs["export5"]]
    # count()
    assert exports.count() == 2


def test_collection_counts(jobs):
    everything = JobStatus.objects.all().collect()
    # countFinished / countSuccessful / countRunning / countNotFinished
    assert everything.count_finished() == 4
    assert everything.count_successful() == 2
    assert everything.count_running() == 1
    assert everything.count_not_finished() == 2
    # The same counts, answered by the database without fetching rows.
    counts = JobStatus.objects.counts()
    assert (counts.finished, counts.successful, counts.running, counts.not_finished) == (4, 2, 1, 2)


def test_examples(jobs):
    # JobStatus::all()->countNotFinished(): the number of jobs not yet finished
    assert JobStatus.objects.all().count_not_finished() == 2
    # JobStatus::first(): the most recently dispatched job
    assert JobStatus.objects.first() == jobs["running"]


def test_status_model(jobs):
    # getStatus(), wasSuccessful(), hasFinished()
    expected = {
        "export5": ("succeeded", True, True),
        "failed": ("failed", False, True),
        "cancelled": ("cancelled", False, True),
        "queued5": ("queued", False, False),
        "running": ("started", False, False),
    }
    for name, (status, successful, finished) in expected.items():
        job = jobs[name]
        assert (job.get_status(), job.was_successful(), job.has_finished()) == (
            status,
            successful,
            finished,
        ), name
    assert jobs["export5"].runtime is not None
    assert jobs["cancelled"].runtime is None  # never started
