"""Pruning: old finished records go, with what hangs off them; queued and started ones stay."""

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from job_status.models import JobMessage, JobSignal, JobStatus, JobTag, JobTransition
from job_status.pruning import PrunedBatch, prune
from job_status.statuses import NOT_FINISHED
from tests.conftest import wait_until
from tests.factories import make_job
from tests.helpers import wait_for_finish
from tests.testapp import tasks

MONTH = timedelta(days=30)


def aged(job, days=40):
    """``job`` as if it had happened ``days`` ago (every time set moves back)."""
    shift = timedelta(days=days)
    JobStatus.objects.filter(pk=job.pk).update(
        queued_at=job.queued_at - shift,
        started_at=job.started_at - shift if job.started_at else None,
        finished_at=job.finished_at - shift if job.finished_at else None,
    )
    job.refresh_from_db()
    return job


def remaining():
    return set(JobStatus.objects.values_list("task_id", flat=True))


@pytest.mark.django_db
def test_only_finished_jobs_older_than_the_age_are_deleted():
    old = {status: aged(make_job(status)) for status in ("succeeded", "failed", "cancelled")}
    old_unfinished = [aged(make_job("queued")), aged(make_job("started"))]
    recent = [make_job(status) for status in ("succeeded", "failed", "cancelled", "started")]
    just_inside = make_job("succeeded")
    JobStatus.objects.filter(pk=just_inside.pk).update(
        finished_at=timezone.now() - MONTH + timedelta(minutes=1)
    )

    report = prune(older_than=MONTH)

    assert dict(report.jobs) == {"succeeded": 1, "failed": 1, "cancelled": 1}
    assert len(report) == 3
    assert remaining() == {job.task_id for job in [*old_unfinished, *recent, just_inside]}
    assert not remaining() & {job.task_id for job in old.values()}


@pytest.mark.django_db
def test_a_started_row_is_never_deleted_whatever_its_finished_at_says():
    """A row's status decides: even a started row that still carries an old
    finished_at (as no write leaves it, but a hand-made row might) stays."""
    odd = make_job("started")
    JobStatus.objects.filter(pk=odd.pk).update(finished_at=timezone.now() - 2 * MONTH)
    queued = make_job("queued")
    JobStatus.objects.filter(pk=queued.pk).update(finished_at=timezone.now() - 2 * MONTH)

    assert len(prune(older_than=MONTH)) == 0
    assert remaining() == {odd.task_id, queued.task_id}


@pytest.mark.django_db
def test_tags_messages_timeline_and_signals_go_with_the_job():
    old = aged(make_job("failed", tags={"election": 5, "nightly": None}))
    kept = make_job("succeeded", tags={"election": 5})
    for job in (old, kept):
        JobMessage.objects.create(job_status=job, text="hello", created_at=job.queued_at)
        JobSignal.objects.create(job_status=job, name="bump", sent_at=job.queued_at)

    report = prune(older_than=MONTH)

    assert remaining() == {kept.task_id}
    assert dict(report.related) == {
        "job_status.JobTag": 2,
        "job_status.JobMessage": 1,
        "job_status.JobSignal": 1,
        "job_status.JobTransition": 3,  # queued, started, failed
    }
    for model in (JobTag, JobMessage, JobSignal, JobTransition):
        assert set(model.objects.values_list("job_status__task_id", flat=True)) == {kept.task_id}


@pytest.mark.django_db
def test_a_retry_of_a_pruned_job_stays_and_loses_its_link():
    original = aged(make_job("failed"))
    retry = make_job("succeeded")
    JobStatus.objects.filter(pk=retry.pk).update(retry_of=original)
    old_retry = aged(make_job("failed"))
    old_retry_of_retry = aged(make_job("succeeded"))
    JobStatus.objects.filter(pk=old_retry_of_retry.pk).update(retry_of=old_retry)

    prune(older_than=MONTH, batch_size=1)  # the link crosses batches

    assert remaining() == {retry.task_id}
    retry.refresh_from_db()
    assert retry.retry_of is None


@pytest.mark.django_db
def test_keep_failed_leaves_failed_jobs():
    failed = aged(make_job("failed"))
    aged(make_job("succeeded"))
    aged(make_job("cancelled"))

    report = prune(older_than=MONTH, keep_failed=True)

    assert report.statuses == ("succeeded", "cancelled")
    assert dict(report.jobs) == {"succeeded": 1, "cancelled": 1}
    assert remaining() == {failed.task_id}


@pytest.mark.django_db
def test_rows_go_in_batches_of_the_given_size():
    for _ in range(5):
        aged(make_job("succeeded", tags={"k": 1}))
    kept = aged(make_job("failed"))
    batches: list[PrunedBatch] = []

    report = prune(older_than=MONTH, batch_size=2, keep_failed=True, on_batch=batches.append)

    assert [(b.number, b.jobs, b.related) for b in batches] == [
        (1, 2, {"job_status.JobTag": 2, "job_status.JobTransition": 6}),
        (2, 2, {"job_status.JobTag": 2, "job_status.JobTransition": 6}),
        (3, 1, {"job_status.JobTag": 1, "job_status.JobTransition": 3}),
    ]
    assert (report.batches, len(report)) == (3, 5)
    assert remaining() == {kept.task_id}


@pytest.mark.django_db
def test_a_batch_costs_a_few_queries_however_many_rows_it_holds(django_assert_max_num_queries):
    for _ in range(20):
        aged(make_job("succeeded", tags={"k": 1}))

    # One transaction: choose and lock, fetch the keys, four cascades, unlink
    # retries, delete (and SQLite's write lock, and the savepoint of the test's
    # transaction): never a query per row.
    with django_assert_max_num_queries(11):
        report = prune(older_than=MONTH, batch_size=50)

    assert (report.batches, len(report)) == (1, 20)


@pytest.mark.django_db
def test_dry_run_counts_and_changes_nothing():
    aged(make_job("succeeded"))
    aged(make_job("succeeded"))
    aged(make_job("cancelled"))
    make_job("succeeded")

    report = prune(older_than=MONTH, dry_run=True)

    assert (report.dry_run, dict(report.jobs), report.batches) == (
        True,
        {"succeeded": 2, "cancelled": 1},
        0,
    )
    assert JobStatus.objects.count() == 4


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"older_than": timedelta(days=-1)}, "must not be negative"),
        ({"older_than": timedelta(days=999_999_999)}, "before the year 1"),
        ({"older_than": MONTH, "batch_size": 0}, "from 1 to 10000"),
        ({"older_than": MONTH, "batch_size": 10_001}, "from 1 to 10000"),
    ],
)
def test_prune_refuses_bad_options(options, error):
    with pytest.raises(ValueError, match=error):
        prune(**options)


def test_prune_refuses_a_batch_size_that_is_not_an_int():
    with pytest.raises(TypeError, match="batch_size must be an int"):
        prune(older_than=MONTH, batch_size=2.5)


# -- the command ------------------------------------------------------------------


def run(*args):
    out = StringIO()
    call_command("job_status_prune", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_command_says_what_it_deleted_at_each_verbosity():
    for _ in range(3):
        aged(make_job("succeeded", tags={"k": 1}))
    failed = aged(make_job("failed"))

    assert "Would delete 4 job(s)" in run("--older-than", "30", "--dry-run")
    assert JobStatus.objects.count() == 4

    out = run("--older-than", "30", "--keep-failed", "--batch-size", "2", "-v", "2")
    assert out.splitlines()[:2] == [
        "Batch 1: 2 job(s), with 2 job tags, 6 job transitions.",
        "Batch 2: 1 job(s), with 1 job tag, 3 job transitions.",
    ]
    assert "Deleted 3 job(s) finished before " in out
    assert ": 3 succeeded, 0 cancelled. Failed jobs were kept." in out
    assert out.splitlines()[-1] == "With them: 3 job tags, 9 job transitions."
    assert remaining() == {failed.task_id}

    assert run("--older-than", "30", "-v", "0") == ""
    assert remaining() == set()
    assert "Deleted 0 job(s)" in run("--older-than", "30")


@pytest.mark.django_db
def test_the_command_takes_fractions_of_a_day():
    job = make_job("succeeded")
    JobStatus.objects.filter(pk=job.pk).update(finished_at=timezone.now() - timedelta(hours=13))

    run("--older-than", "0.6")
    assert remaining() == {job.task_id}
    run("--older-than", "0.5")
    assert remaining() == set()


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ([], "the following arguments are required: --older-than"),
        (["--older-than", "a month"], "'a month' is not a number of days"),
        (["--older-than", "-1"], "'-1' must be zero or a positive number of days"),
        (["--older-than", "nan"], "'nan' must be zero or a positive number of days"),
        (["--older-than", "inf"], "'inf' must be zero or a positive number of days"),
        (["--older-than", "1e8"], "'1e8' days reaches back before the year 1"),
        (["--older-than", "1e12"], "'1e12' days reaches back before the year 1"),
        (["--older-than", "30", "--batch-size", "0"], "'0' must be from 1 to 10000 rows"),
        (["--older-than", "30", "--batch-size", "2.5"], "'2.5' is not a whole number of rows"),
        (["--older-than", "30", "--batch-size", "20000"], "'20000' must be from 1 to 10000 rows"),
    ],
)
def test_the_command_refuses_bad_arguments(args, error):
    with pytest.raises(CommandError, match=error):
        run(*args)


# -- on a real worker -----------------------------------------------------------------


@pytest.mark.worker
def test_pruning_while_jobs_run_never_touches_them_and_they_keep_recording(worker):
    old = [aged(make_job(status, tags={"k": 1})) for status in ("succeeded", "failed", "cancelled")]
    reporting = tasks.reporting.delay(steps=5, pause=0.4)
    sleeping = tasks.sleep.delay(2)
    waiting = tasks.sleep.delay(0.1)  # the worker has two processes: this one waits
    wait_until(
        lambda: (
            JobStatus.objects.filter(
                task_id__in=[reporting.id, sleeping.id], status="started"
            ).count()
            == 2
        )
    )
    live = {reporting.id, sleeping.id, waiting.id}

    # Everything finished before now goes, one row per batch; nothing live does.
    report = prune(older_than=timedelta(0), batch_size=1)

    assert len(report) == 3
    assert remaining() == live
    assert dict(JobStatus.objects.values_list("task_id", "status")) == {
        reporting.id: "started",
        sleeping.id: "started",
        waiting.id: "queued",
    }

    def prune_again_until_they_end():
        # Pruning again and again while they write changes nothing of theirs.
        assert len(prune(older_than=MONTH, batch_size=1)) == 0
        return not JobStatus.objects.filter(task_id__in=live, status__in=NOT_FINISHED).exists()

    wait_until(prune_again_until_they_end)
    for task_id in live:
        job = wait_for_finish(task_id)
        assert job.status == "succeeded"
        assert list(job.timeline.values_list("event", flat=True)) == [
            "queued",
            "started",
            "succeeded",
        ]
    job = JobStatus.objects.get(task_id=reporting.id)
    assert [m.text for m in job.get_messages("info")] == [f"step {n} of 5" for n in range(1, 6)]
    assert job.progress == 100
    assert not JobStatus.objects.filter(task_id__in=[j.task_id for j in old]).exists()


@pytest.mark.django_db
def test_the_command_writes_a_cutoff_centuries_back_with_its_full_year():
    out = run("--older-than", "500000", "--dry-run")  # about 1369 years

    cutoff = re.search(r"finished before (\S+) ", out)
    assert cutoff, out
    assert re.fullmatch(r"0\d{3}-\d{2}-\d{2}", cutoff.group(1)), out
