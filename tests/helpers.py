"""Small helpers shared by the tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connection

from job_status.models import JobStatus
from job_status.statuses import FINISHED
from tests.conftest import wait_until


def wait_for_finish(task_id: str, timeout: float = 30.0) -> JobStatus:
    """The job's row once it has finished; fails the test after ``timeout`` seconds."""
    job: JobStatus = wait_until(
        lambda: JobStatus.objects.filter(task_id=task_id, status__in=FINISHED).first(),
        timeout=timeout,
        describe=lambda: f"Rows: {list(JobStatus.objects.values_list('task_id', 'status'))}",
    )
    return job


def assert_times_in_order(job: JobStatus) -> None:
    """queued ≤ started ≤ finished, wherever they are set."""
    assert job.queued_at is not None
    if job.started_at is not None:
        assert job.queued_at <= job.started_at
    if job.finished_at is not None:
        assert (job.started_at or job.queued_at) <= job.finished_at


T = TypeVar("T")


def read_elsewhere(read: Callable[[], T]) -> T:
    """``read()`` as another process would see it: on a thread, which has its own
    database connection (closed afterwards)."""
    found: list[T] = []

    def run() -> None:
        try:
            found.append(read())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return found[0]
