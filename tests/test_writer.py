"""The status writer: order kept, results and errors handed back, inline where not started."""

import os
import threading

import pytest

from job_status.writer import StatusWriter


@pytest.fixture
def writer():
    writer = StatusWriter()
    writer.start()
    yield writer
    writer.stop()


def test_writes_run_on_the_writer_thread_in_the_order_handed_over(writer):
    seen = []
    for n in range(100):
        writer.submit(lambda n=n: seen.append((n, threading.current_thread().name)))
    writer.flush()

    assert [n for n, _ in seen] == list(range(100))
    assert {name for _, name in seen} == {"job_status-writer"}


def test_call_waits_and_returns_the_result_or_raises_the_error(writer):
    assert writer.call(lambda: 42) == 42
    with pytest.raises(ZeroDivisionError):
        writer.call(lambda: 1 / 0)
    assert writer.call(lambda: "still running") == "still running"


def test_a_failing_submitted_write_is_logged_and_the_thread_goes_on(writer, caplog):
    writer.submit(lambda: 1 / 0)
    assert writer.call(lambda: "next") == "next"
    assert "a status write failed" in caplog.text


def test_stop_writes_what_is_waiting():
    writer = StatusWriter()
    writer.start()
    done: list[int] = []
    for n in range(50):
        writer.submit(lambda n=n: done.append(n))  # type: ignore[misc]
    writer.stop()

    assert done == list(range(50))
    assert not writer.running


def test_not_started_it_runs_writes_inline():
    writer = StatusWriter()
    where = []
    writer.submit(lambda: where.append(threading.current_thread()))

    assert where == [threading.current_thread()]
    assert writer.call(lambda: "inline") == "inline"


def test_a_forked_child_writes_inline(writer):
    """A process forked from one with a writer inherits no thread: it must not queue
    writes that nothing would ever run."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            name = writer.call(lambda: threading.current_thread().name)
            os.write(write, name.encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 100).decode() == "MainThread"


def test_a_write_that_waits_on_the_writer_from_the_writer_runs_in_place(writer):
    """Writes run user code (tag functions, post_save receivers) on the writer's
    thread; if that code waits on the writer, it must not wait for itself."""
    writer.submit(lambda: writer.call(lambda: 1))
    assert writer.call(lambda: "not stuck") == "not stuck"


def test_after_stop_writes_run_in_place():
    writer = StatusWriter()
    writer.start()
    writer.stop()

    assert writer.call(lambda: threading.current_thread()) is threading.current_thread()


@pytest.mark.timeout(30)
def test_tasks_run_in_place_in_a_transaction_inside_a_pool_process(transactional_db):
    """A job in a pool process (where the writer runs) runs tracked tasks in place,
    inside its transaction: their writes hold locks in that transaction, so they
    are made on the job's thread. Handed to the writer, it would wait on those
    locks while the job waits on the writer: forever on PostgreSQL, for the busy
    timeout and then lost on SQLite."""
    from job_status.models import JobStatus
    from job_status.writer import writer as pool_writer
    from tests.testapp import tasks

    pool_writer.start()  # what the worker does in each pool process
    try:
        result = tasks.runs_others_in_place_in_a_transaction.apply()
        pool_writer.flush()
    finally:
        pool_writer.stop()

    assert result.get() == [2, 4]
    inner = JobStatus.objects.for_job(tasks.reports_half)
    assert sorted(inner.values_list("status", "progress")) == [
        ("succeeded", 100.0),
        ("succeeded", 100.0),
    ]
    assert all(
        [entry.event for entry in job.timeline.all()] == ["started", "succeeded"] for job in inner
    )
