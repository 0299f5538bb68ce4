"""The whole life of a job on a real worker process: time limits, cancelling,
retries, unicode, exceptions that cannot be rebuilt (cases L1-L3, L5, L6, L9, L12)."""

import time
import uuid
from datetime import timedelta

import pytest
from celery.result import AsyncResult

from job_status.models import JobStatus
from job_status.reaper import LOST, reap
from tests.conftest import wait_until
from tests.helpers import assert_times_in_order, wait_for_finish
from tests.testapp import tasks

pytestmark = pytest.mark.worker


def started(result):
    return wait_until(lambda: JobStatus.objects.filter(task_id=result.id, status="started").first())


def retry_entries(job, expected):
    """The job's "retrying" entries, once all ``expected`` of them are written. Celery
    reports a retry after it publishes the next attempt, so that attempt can end
    (on another process) before the retry's own entry is in."""
    return wait_until(
        lambda: (
            list(job.timeline.filter(event="retrying"))
            if job.timeline.filter(event="retrying").count() >= expected
            else None
        )
    )


def counts(ids):
    found = JobStatus.objects.filter(task_id__in=ids).counts()
    return (found.finished, found.successful, found.running, found.not_finished)


def test_time_limits(worker):
    """L1: hard limit fails, soft limit fails keeping its message, a caught soft limit succeeds."""
    hard = tasks.hard_limited.delay()
    soft = tasks.soft_limited.delay()
    caught = tasks.soft_limited_caught.delay()

    soft_job, caught_job = (wait_for_finish(r.id, timeout=30) for r in (soft, caught))
    try:
        hard_job = wait_for_finish(hard.id, timeout=6)
    except AssertionError:
        # Celery before 5.7 sends no signal for a hard time limit: the reaper
        # ends the row, once past the job's own limit.
        reap(grace=timedelta(0))
        hard_job = wait_for_finish(hard.id, timeout=1)

    assert hard_job.status == "failed"
    assert hard_job.exception_type in {"billiard.exceptions.TimeLimitExceeded", LOST}
    assert hard_job.finished_at is not None
    assert hard_job.runtime is not None
    assert 0.8 < hard_job.runtime.total_seconds() < 3
    assert soft_job.status == "failed"
    assert soft_job.exception_type == "billiard.exceptions.SoftTimeLimitExceeded"
    assert [m.text for m in soft_job.get_messages()] == ["halfway"]
    assert caught_job.status == "succeeded"
    ids = [hard.id, soft.id, caught.id]
    assert counts(ids) == (3, 1, 0, 0)
    assert not JobStatus.objects.filter(task_id__in=ids, status="started").exists()


def test_cancel_a_running_job_through_the_app(worker):
    """L2(a): it stops at its next check, cancelled, with its clean-up run."""
    result = tasks.checking_loop.delay()
    job = started(result)
    time.sleep(2)

    assert job.cancel() is False  # running: it stops at its next check
    job = wait_for_finish(result.id)

    assert job.status == "cancelled"
    assert job.finished_at is not None
    assert job.cancel_requested_at is not None
    took = (job.finished_at - job.cancel_requested_at).total_seconds()
    assert took < 0.5 + 1.0 + 1.0  # check interval + poll period + time to record it
    assert [m.text for m in job.get_messages("warning")] == ["cleaned up"]
    assert JobStatus.objects.filter(task_id=result.id).count_successful() == 0
    assert [t.event for t in job.timeline.all()][-1] == "cancelled"


def test_plain_revoke_does_not_stop_a_running_job(worker):
    """L2(b): Celery's revoke without terminate leaves it running; the record says so."""
    result = tasks.checking_loop.delay(turns=8, pause=0.5)
    started(result)
    time.sleep(1)

    AsyncResult(result.id).revoke()

    job = wait_for_finish(result.id)
    assert job.status == "succeeded"


# Celery's terminate signals the pool process it believes runs the job, and can
# leave a prefork pool unable to run anything more (Celery issues 2142, 5169: it
# says terminate is for an operator's last resort). Tests that terminate get a
# worker of their own, so that a wedged pool fails only them, never the tests
# after them.
TERMINATE_QUEUE = "terminate"


def test_revoke_with_terminate_ends_cancelled(start_worker):
    """L2(c)."""
    start_worker(TERMINATE_QUEUE, concurrency=2)
    result = tasks.checking_loop.apply_async(queue=TERMINATE_QUEUE)
    started(result)
    time.sleep(1)

    AsyncResult(result.id).revoke(terminate=True)

    job = wait_for_finish(result.id)
    assert job.status == "cancelled"
    assert job.finished_at is not None
    assert JobStatus.objects.filter(task_id=result.id).count_running() == 0


def test_cancel_with_terminate_stops_a_job_that_never_checks(start_worker):
    """``job.cancel(terminate=True)``: the worker kills the job's process; cancelled."""
    start_worker(TERMINATE_QUEUE, concurrency=2)
    result = tasks.sleep.apply_async((20,), queue=TERMINATE_QUEUE)
    job = started(result)

    assert job.cancel(terminate=True) is False  # still running when it returns
    job = wait_for_finish(result.id, timeout=15)

    assert job.status == "cancelled"
    assert job.cancel_requested_at is not None
    assert (job.finished_at - job.started_at).total_seconds() < 15


def test_cancel_a_job_waiting_for_its_countdown(worker):
    """L3: cancelled at once through the app; never started; found by tag and status."""
    result = tasks.add.apply_async((1, 2), countdown=10, job_alias="sum", job_tags=["nightly"])
    time.sleep(1)
    job = JobStatus.objects.get_by_task_id(result.id)

    assert job.cancel() is True

    job.refresh_from_db()
    assert job.status == "cancelled"
    assert job.started_at is None
    assert job.runtime is None
    assert JobStatus.objects.where_tag("nightly").where_status("cancelled").get() == job
    # The message stays with the worker until its countdown ends; it must not run then.
    time.sleep(10)
    job.refresh_from_db()
    assert (job.status, job.started_at) == ("cancelled", None)


def test_plain_revoke_of_a_waiting_job_ends_cancelled_when_the_countdown_ends(worker):
    """L3 through Celery's own revoke."""
    result = tasks.add.apply_async((1, 2), countdown=3)
    time.sleep(1)

    AsyncResult(result.id).revoke()

    job = wait_for_finish(result.id, timeout=15)
    assert (job.status, job.started_at) == ("cancelled", None)


@pytest.mark.parametrize("spelling", [str.upper, lambda task_id: task_id.replace("-", "")])
def test_task_ids_in_other_spellings_are_normalised(worker, spelling):
    """L3: an id in upper case or without dashes finds the job, never silently nothing."""
    result = tasks.add.apply_async((1, 2), queue="nobody-listens")

    assert JobStatus.objects.get_by_task_id(spelling(result.id)).task_id == result.id


@pytest.mark.parametrize("spelling", [str.upper, lambda task_id: task_id.replace("-", "")])
def test_a_task_id_dispatched_in_another_spelling_is_normalised(worker, spelling):
    """L3: given in upper case or without dashes, the id is dispatched and stored
    in its canonical form, so every spelling finds the job."""
    canonical = str(uuid.uuid4())

    result = tasks.add.apply_async((1, 2), queue="nobody-listens", task_id=spelling(canonical))
    handle = tasks.add.apply_async_on_commit(
        (1, 2), queue="nobody-listens", task_id=spelling(str(uuid.UUID(canonical[:-4] + "0000")))
    )

    assert result.id == canonical
    assert handle.id == canonical[:-4] + "0000"
    for lookup in (canonical, canonical.upper(), canonical.replace("-", "")):
        assert JobStatus.objects.get_by_task_id(lookup).task_id == canonical


def test_unknown_task_ids_get_a_clear_error(worker):
    with pytest.raises(JobStatus.DoesNotExist, match="No job with task id 'no-such-id'"):
        JobStatus.objects.get_by_task_id("no-such-id")
    with pytest.raises(JobStatus.DoesNotExist, match="is not a task id"):
        JobStatus.objects.get_by_task_id("ab\x00c")


def test_retries_that_end_well(worker):
    """L5: one row, attempts 3, both failures in the timeline, queued while waiting."""
    result = tasks.retried_with_countdown.delay(failures=2, countdown=1)

    waiting = wait_until(
        lambda: JobStatus.objects.filter(task_id=result.id, attempts=2, status="queued").first()
    )
    assert waiting.status == "queued"
    job = wait_for_finish(result.id)

    assert JobStatus.objects.filter(task_id=result.id).count() == 1
    assert (job.status, job.attempts) == ("succeeded", 3)
    retries = retry_entries(job, 2)
    assert [(t.attempt, t.exception_type) for t in retries] == [
        (1, "builtins.ConnectionError"),
        (2, "builtins.ConnectionError"),
    ]
    assert all("ConnectionError" in t.traceback for t in retries)
    assert not job.timeline.filter(event="failed").exists()
    assert JobStatus.objects.filter(task_id=result.id).count_finished() == 1
    assert JobStatus.objects.where_failed().count() == 0
    assert_times_in_order(job)


def test_retries_that_run_out(worker):
    """L6: failed, 3 attempts, exception kept; the last "will retry" does not overwrite it."""
    result = tasks.always_retry.delay()

    job = wait_for_finish(result.id)
    time.sleep(0.5)  # let any late retry event arrive
    job.refresh_from_db()

    assert (job.status, job.attempts) == ("failed", 3)
    assert (job.exception_type, job.exception_message) == ("builtins.ValueError", "boom")
    assert counts([result.id]) == (1, 0, 0, 0)
    assert JobStatus.objects.where_status("failed").get() == job
    assert job.timeline.last().event == "failed"


def test_unicode_is_kept_exactly(worker):
    """L9: the exact text in the timeline and the messages, emoji included."""
    result = tasks.unicode_flaky.delay()

    job = wait_for_finish(result.id)

    assert job.status == "succeeded"
    texts = [t.exception_message for t in retry_entries(job, 2)]
    assert texts == [tasks.UNICODE, tasks.UNICODE]
    assert [m.text for m in job.get_messages()] == [tasks.UNICODE]


def test_exception_that_cannot_be_rebuilt(worker):
    """L12: dotted type, message and traceback (with its cause); the worker goes on."""
    result = tasks.raise_two_argument_error.delay()

    job = wait_for_finish(result.id)

    assert job.status == "failed"
    assert job.exception_type == "tests.testapp.tasks.TwoArgumentError"
    assert "cannot be rebuilt" in job.exception_message
    failure = job.timeline.get(event="failed")
    assert "TwoArgumentError" in failure.traceback
    assert "inner cause" in failure.traceback  # the chained exception
    assert wait_for_finish(tasks.add.delay(1, 1).id).status == "succeeded"


def test_progress_and_messages_are_visible_while_the_job_runs(worker):
    result = tasks.reporting.delay(steps=5, pause=0.4)

    seen = wait_until(
        lambda: JobStatus.objects.filter(
            task_id=result.id, status="started", progress__gt=0
        ).first()
    )
    assert 0 < seen.progress < 100
    job = wait_for_finish(result.id)

    assert job.progress == 100
    assert [m.text for m in job.get_messages("info")][-1] == "step 5 of 5"
    assert job.latest_message().text == "step 5 of 5"  # debug messages left out
    assert job.get_messages("debug").count() == 5


def test_signals_reach_the_running_job(worker):
    result = tasks.reporting.delay(steps=6, pause=0.4)
    job = started(result)

    job.send_signal("bump", {"by": 3})

    job = wait_for_finish(result.id)
    assert "bumped by 3" in [m.text for m in job.get_messages()]
    assert job.signals.get().handled_at is not None


def test_retry_dispatches_a_failed_job_again_and_links_it(worker):
    failed = wait_for_finish(tasks.fail_if.delay("x").id)

    again = failed.retry()

    assert again.retry_of == failed
    assert again.task_id != failed.task_id
    again = wait_for_finish(again.task_id)
    assert (again.job, again.status, again.arguments) == (failed.job, "failed", failed.arguments)
    assert list(failed.retried_by.all()) == [again]


def test_the_timeline_of_a_retried_job_is_in_causal_order(worker):
    result = tasks.flaky.delay(failures=1)

    job = wait_for_finish(result.id)
    retry_entries(job, 1)

    events = [(t.event, t.attempt) for t in job.timeline.all()]
    assert events == [
        ("queued", 1),
        ("started", 1),
        ("retrying", 1),
        ("queued", 2),
        ("started", 2),
        ("succeeded", 2),
    ]
