"""Production cases: connections lost under the worker (P1), SQLite under concurrency
(P2), and many jobs through several worker processes on PostgreSQL."""

import threading

import pytest
from django.db import connection, connections

from job_status.models import JobStatus
from tests.conftest import wait_until
from tests.helpers import wait_for_finish
from tests.testapp import tasks

pytestmark = pytest.mark.worker


def test_connection_closed_by_the_job(start_worker):
    """P1: job A closes the worker's connection and raises; job B runs next, in the same process."""
    start_worker("p1")
    a = tasks.close_connection_then_fail.apply_async(queue="p1")
    b = tasks.add.apply_async((1, 2), queue="p1")

    assert wait_for_finish(a.id).status == "failed"
    assert wait_for_finish(b.id).status == "succeeded"


@pytest.mark.postgres
def test_worker_sessions_ended_from_outside(on_postgres, start_worker):
    """P1 variant: between A and B, every session of the worker is ended by the server.

    The worker keeps its connections between tasks (Celery's default closes them
    around every task, and then there would be nothing to end)."""
    worker = start_worker("p1", env={"JOB_STATUS_TEST_DB_REUSE_MAX": "100"})
    a = tasks.fail_if.apply_async(("A",), queue="p1")
    assert wait_for_finish(a.id).status == "failed"

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert cursor.fetchone()[0] >= 1  # the worker's sessions were there, and ended
    b = tasks.add.apply_async((1, 2), queue="p1")

    assert wait_for_finish(b.id).status == "succeeded"
    errors = [line for line in worker.output().splitlines() if "OperationalError" in line]
    assert len(errors) <= 2  # no endless stream of connection errors


def test_sqlite_under_concurrency_while_a_view_lists_jobs(start_worker):
    """P2: 50 jobs of 0.1 s through 4 processes while another thread keeps listing jobs."""
    start_worker("p2", concurrency=4)
    stop = threading.Event()
    listings = []

    def list_jobs_like_a_view():
        try:
            while not stop.is_set():
                jobs = JobStatus.objects.all()
                listings.append((len(list(jobs[:20])), jobs.counts()))
        finally:
            connections.close_all()

    viewer = threading.Thread(target=list_jobs_like_a_view)
    viewer.start()
    try:
        results = [tasks.sleep.apply_async((0.1,), queue="p2") for _ in range(50)]
        ids = [result.id for result in results]
        wait_until(
            lambda: JobStatus.objects.filter(task_id__in=ids).where_finished().count() == 50,
            timeout=60,
        )
    finally:
        stop.set()
        viewer.join()

    jobs = JobStatus.objects.filter(task_id__in=ids)
    assert jobs.count() == 50
    counts = jobs.counts()
    assert (counts.finished, counts.successful, counts.running, counts.not_finished) == (
        50,
        50,
        0,
        0,
    )
    assert listings  # the view really ran alongside


@pytest.mark.postgres
def test_two_thousand_jobs_through_four_processes(on_postgres, start_worker):
    """Every job ends with exactly one row, in the right final status."""
    start_worker("bulk", concurrency=4)
    values = ["" if n % 10 else f"job {n}" for n in range(2000)]  # every tenth one fails
    results = [tasks.fail_if.apply_async((value,), queue="bulk") for value in values]
    ids = [result.id for result in results]

    wait_until(
        lambda: JobStatus.objects.filter(task_id__in=ids).where_finished().count() == 2000,
        timeout=300,
        interval=1,
    )

    rows = dict(JobStatus.objects.filter(task_id__in=ids).values_list("task_id", "status"))
    assert len(rows) == 2000
    expected = {
        result.id: "failed" if value else "succeeded"
        for result, value in zip(results, values, strict=True)
    }
    assert rows == expected


@pytest.mark.postgres
def test_a_pool_process_keeps_its_connection_for_status_writes(on_postgres, start_worker):
    """Celery closes a pool process's connections before and after every job; the
    status writer's thread keeps its own, so 30 jobs open no new session (they
    would open 60 if the writes were made on the job's thread)."""

    def sessions_so_far() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
            )
            return int(cursor.fetchone()[0])

    start_worker("sessions", concurrency=2)
    # Both pool processes take a job first and open their writer's connection.
    warm_up = [tasks.sleep.apply_async((0.5,), queue="sessions") for _ in range(2)]
    for result in warm_up:
        wait_for_finish(result.id)
    before = sessions_so_far()

    results = [tasks.add.apply_async((n, n), queue="sessions") for n in range(30)]
    for result in results:
        assert wait_for_finish(result.id).status == "succeeded"

    assert sessions_so_far() - before == 0


def test_a_pool_process_replaced_after_each_job_loses_no_end(start_worker):
    """With ``max_tasks_per_child=1`` every pool process exits right after its job:
    the end its status writer was handed must be written before it goes."""
    start_worker("recycled", env={"JOB_STATUS_TEST_MAX_TASKS_PER_CHILD": "1"})
    results = [tasks.add.apply_async((n, n), queue="recycled") for n in range(6)]

    assert [wait_for_finish(result.id).status for result in results] == ["succeeded"] * 6
