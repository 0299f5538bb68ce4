"""The reaper: records that no worker will report on are ended; running ones are left alone."""

import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from job_status.models import JobStatus
from job_status.reaper import LOST, reap
from tests.conftest import wait_until
from tests.factories import make_job
from tests.testapp import tasks


def started(result):
    return wait_until(lambda: JobStatus.objects.filter(task_id=result.id, status="started").first())


@pytest.mark.worker
def test_a_job_whose_whole_worker_was_killed_is_failed(doomed_worker, worker):
    result = tasks.sleep.apply_async((30,), queue="doomed")
    started(result)
    doomed_worker.kill()  # every process at once: nobody reports the loss

    # On the healthy worker, within its own time limit.
    running_elsewhere = tasks.sleep.apply_async((3,), time_limit=10)
    started(running_elsewhere)
    time.sleep(1)
    report = reap(stale_after=timedelta(seconds=0.5))

    assert report.failed == [result.id]
    lost = JobStatus.objects.get(task_id=result.id)
    assert (lost.status, lost.exception_type, lost.status_is_provisional) == ("failed", LOST, True)
    assert lost.finished_at is not None
    assert "reaped" in lost.timeline.last().note
    assert JobStatus.objects.get(task_id=running_elsewhere.id).status == "started"
    wait_until(
        lambda: JobStatus.objects.filter(task_id=running_elsewhere.id, status="succeeded").exists()
    )


@pytest.mark.worker
def test_cancel_then_kill_the_whole_worker(doomed_worker):
    """L2(d): once the reaper runs, the record is no longer started: it is cancelled."""
    result = tasks.checking_loop.apply_async(kwargs={"turns": 40, "pause": 0.5}, queue="doomed")
    job = started(result)
    job.cancel()
    doomed_worker.kill()  # before the job's next check

    time.sleep(1)
    report = reap(stale_after=timedelta(seconds=0.5))

    assert report.cancelled == [result.id]
    job.refresh_from_db()
    assert job.status == "cancelled"


@pytest.mark.django_db
def test_jobs_within_their_limits_are_left_alone():
    make_job("started")

    assert len(reap(stale_after=timedelta(hours=1))) == 0
    assert JobStatus.objects.get().status == "started"


@pytest.mark.django_db
def test_a_job_past_its_own_time_limit_is_failed_at_that_limit():
    job = make_job("started")
    JobStatus.objects.filter(pk=job.pk).update(time_limit=1.0)

    assert len(reap(now=job.started_at + timedelta(seconds=1.5), grace=timedelta(seconds=1))) == 0
    report = reap(now=job.started_at + timedelta(seconds=5), grace=timedelta(seconds=1))

    assert report.failed == [job.task_id]
    job.refresh_from_db()
    assert job.runtime == timedelta(seconds=1)


@pytest.mark.django_db
def test_a_time_limit_past_the_calendar_never_runs_out_and_stops_nothing_else():
    huge, lost = make_job("started"), make_job("started")
    JobStatus.objects.filter(pk=huge.pk).update(time_limit=10.0**12)  # Celery accepts it

    report = reap(now=lost.started_at + timedelta(hours=2), stale_after=timedelta(hours=1))

    assert report.failed == [lost.task_id]
    assert JobStatus.objects.get(pk=huge.pk).status == "started"


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"stale_after": timedelta(seconds=-10)}, "stale_after must be a positive"),
        ({"stale_after": timedelta(0)}, "stale_after must be a positive"),
        ({"stale_after": 60}, "stale_after must be a positive timedelta"),
        ({"grace": timedelta(seconds=-1)}, "grace must be a timedelta of zero or more"),
    ],
)
def test_reap_refuses_durations_that_would_end_running_jobs(options, problem):
    with pytest.raises(ValueError, match=problem):
        reap(**options)


@pytest.mark.django_db
def test_the_settings_give_the_defaults(settings):
    settings.JOB_STATUS_STALE_AFTER = 60.0
    settings.JOB_STATUS_REAP_GRACE = 5.0
    no_limit, limited = make_job("started"), make_job("started")
    JobStatus.objects.filter(pk=limited.pk).update(time_limit=1.0)
    start = no_limit.started_at

    assert len(reap(now=start + timedelta(seconds=5))) == 0  # limit 1 s + grace 5 s
    assert reap(now=start + timedelta(seconds=30)).failed == [limited.task_id]
    assert reap(now=start + timedelta(seconds=90)).failed == [no_limit.task_id]


@pytest.mark.django_db
def test_a_real_outcome_replaces_the_provisional_failure():
    from job_status.recording import record
    from job_status.statuses import Status, Transition

    job = make_job("started")
    reap(now=job.started_at + timedelta(hours=2))
    record(job.task_id, Transition(Status.SUCCEEDED, 1))

    job.refresh_from_db()
    assert (job.status, job.status_is_provisional) == ("succeeded", False)


@pytest.mark.django_db
def test_a_reaped_cancel_is_provisional_too_and_a_real_outcome_replaces_it():
    """The reaper cannot tell a lost job from one that ignored its cancel and
    went on: if the job reports its end after all, that is what happened."""
    from job_status.recording import record
    from job_status.statuses import Status, Transition

    job = make_job("started")
    JobStatus.objects.filter(pk=job.pk).update(cancel_requested_at=job.started_at)

    report = reap(now=job.started_at + timedelta(hours=2))
    job.refresh_from_db()
    assert report.cancelled == [job.task_id]
    assert (job.status, job.status_is_provisional) == ("cancelled", True)

    record(job.task_id, Transition(Status.SUCCEEDED, 1))
    job.refresh_from_db()
    assert (job.status, job.status_is_provisional) == ("succeeded", False)


@pytest.mark.django_db
def test_the_command_with_dry_run_changes_nothing():
    job = make_job("started")
    JobStatus.objects.filter(pk=job.pk).update(started_at=job.started_at - timedelta(hours=2))
    out = StringIO()

    call_command("job_status_reap", "--dry-run", "-v", "2", stdout=out)

    assert f"failed: {job.task_id}" in out.getvalue()
    assert "would end 1 job(s)" in out.getvalue()
    assert JobStatus.objects.get().status == "started"
    call_command("job_status_reap", stdout=out)
    assert JobStatus.objects.get().status == "failed"


def test_the_command_refuses_a_bad_duration():
    with pytest.raises(CommandError, match="'-5' must be a number of seconds from more than 0"):
        call_command("job_status_reap", "--stale-after", "-5", stdout=StringIO())


@pytest.mark.django_db(transaction=True)
def test_the_reaper_as_a_celery_task():
    from job_status.contrib.celery.tasks import reap_stale_jobs

    job = make_job("started")
    JobStatus.objects.filter(pk=job.pk).update(started_at=job.started_at - timedelta(hours=2))

    assert reap_stale_jobs.apply().get() == 1
    job.refresh_from_db()
    assert (job.status, job.was_cancel_requested) == ("failed", False)
