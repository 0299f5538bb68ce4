"""The running job's handle, in this process: throttled progress, messages, cancel flag."""

import math
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from job_status.models import JobStatus
from job_status.running import JobCancelled, JobHandle, close_handle, current_job, open_handle
from tests.factories import make_job

pytestmark = pytest.mark.django_db


def writes(queries):
    return [q["sql"] for q in queries if q["sql"].startswith(("UPDATE", "INSERT"))]


def test_a_loop_of_progress_costs_a_write_per_interval(settings):
    """10,000 updates spread over about 1.8 s (under 2 s) cost at most 30 writes: one
    per second (``JOB_STATUS_PROGRESS_INTERVAL``), then the last value at the end."""
    settings.JOB_STATUS_PROGRESS_INTERVAL = 1.0
    job = make_job("started")
    handle = JobHandle(job.task_id)

    started = time.monotonic()
    with CaptureQueriesContext(connection) as queries:
        for done in range(1, 10_001):
            while time.monotonic() < started + done * 0.00018:
                pass  # a job's work between two updates
            handle.set_progress(current=done, total=10_000)
        handle.flush()
    elapsed = time.monotonic() - started

    # The first update, one a second after it, and the last: a much weaker
    # throttle (say one write every 50 ms) would make about 36.
    assert 2 <= len(writes(queries)) <= min(30, math.floor(elapsed) + 2), elapsed
    job.refresh_from_db()
    assert (job.progress, job.progress_current, job.progress_total) == (100, 10_000, 10_000)


def test_progress_is_written_once_per_interval(settings):
    settings.JOB_STATUS_PROGRESS_INTERVAL = 1.0
    now = [0.0]
    job = make_job("started")
    handle = JobHandle(job.task_id, clock=lambda: now[0])

    with CaptureQueriesContext(connection) as queries:
        handle.set_progress(10)  # first: written
        now[0] = 0.5
        handle.set_progress(20)  # within the interval: held back
        now[0] = 1.1
        handle.set_progress(30)  # due: written
    assert len(writes(queries)) == 2
    job.refresh_from_db()
    assert job.progress == 30


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"percent": 101}, ValueError),
        ({"percent": -1}, ValueError),
        ({"percent": math.nan}, ValueError),
        ({"current": 1}, TypeError),
        ({"current": 1, "total": 0}, ValueError),
        ({"percent": 5, "current": 1, "total": 2}, TypeError),
        ({"current": 5, "total": 3}, ValueError),
        ({"percent": True}, TypeError),
        ({"percent": "50"}, TypeError),
    ],
)
def test_bad_progress_is_refused(arguments, error):
    with pytest.raises(error):
        JobHandle("t").set_progress(**arguments)


def test_messages_have_levels():
    job = make_job("started")
    handle = JobHandle(job.task_id)

    handle.info("one")
    handle.debug("detail")
    handle.success("fine")
    handle.warning("careful")
    handle.error("two")

    assert [(m.level, m.text) for m in job.get_messages()] == [
        ("info", "one"),
        ("debug", "detail"),
        ("success", "fine"),
        ("warning", "careful"),
        ("error", "two"),
    ]
    assert [m.text for m in job.get_messages("error")] == ["two"]
    assert job.latest_message().text == "two"
    with pytest.raises(ValueError, match=r"Unknown message level 'loud'.*'debug'"):
        handle.message("x", "loud")
    with pytest.raises(ValueError, match="Unknown message level"):
        job.get_messages("loud")


def test_cancel_flag_is_cached_for_the_poll_period(settings):
    settings.JOB_STATUS_CANCEL_POLL_INTERVAL = 1.0
    now = [0.0]
    job = make_job("started")
    handle = JobHandle(job.task_id, clock=lambda: now[0])
    assert handle.should_cancel() is False

    JobStatus.objects.filter(pk=job.pk).update(cancel_requested_at=job.started_at)
    with CaptureQueriesContext(connection) as queries:
        now[0] = 0.5
        assert handle.should_cancel() is False  # cached: no query
    assert len(queries) == 0
    now[0] = 1.5
    assert handle.should_cancel() is True
    cleaned = []
    handle.on_cancel(lambda: cleaned.append(True))
    with pytest.raises(JobCancelled):
        handle.check()
    assert cleaned == [True]


def test_current_job_outside_a_job_says_so():
    with pytest.raises(LookupError, match="outside a running tracked job"):
        current_job()


def test_handles_nest_and_unwind():
    open_handle("outer")
    open_handle("inner")
    assert current_job().task_id == "inner"
    close_handle("inner")
    assert current_job().task_id == "outer"
    close_handle("outer")
    with pytest.raises(LookupError):
        current_job()
