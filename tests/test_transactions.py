"""Dispatch inside a transaction, with a real worker (case L8 a and b)."""

import time

import pytest
from django.db import transaction

from job_status.models import JobStatus
from tests.conftest import wait_until
from tests.helpers import assert_times_in_order, read_elsewhere, wait_for_finish
from tests.testapp import tasks

pytestmark = pytest.mark.worker


class Rollback(Exception):
    pass


def read_in_another_connection(task_id):
    """The job's status as another process would see it."""
    return read_elsewhere(
        lambda: JobStatus.objects.filter(task_id=task_id).values_list("status", flat=True).first()
    )


def test_rolled_back_dispatch_still_gets_its_row_from_the_worker(worker):
    """L8(a): the message left anyway, the queued row never did; the worker creates it."""
    dispatched = []

    def dispatch_then_fail():
        with transaction.atomic():
            dispatched.append(tasks.add.delay(1, 2))
            raise Rollback

    with pytest.raises(Rollback):
        dispatch_then_fail()
    result = dispatched[0]

    job = wait_for_finish(result.id)
    assert JobStatus.objects.filter(task_id=result.id).count() == 1
    assert job.status == "succeeded"
    assert job.alias == "adder"
    assert {tag.key for tag in job.tags.all()} == {"first", "nightly"}
    assert_times_in_order(job)


def test_slow_commit_neither_blocks_the_worker_nor_resets_its_row(worker):
    """L8(b): the worker finishes while the block is open; the late insert changes nothing."""
    with transaction.atomic():
        dispatched = time.monotonic()
        result = tasks.add.delay(1, 2)
        # The worker records the whole job while the caller's transaction is open.
        wait_until(lambda: read_in_another_connection(result.id) == "succeeded", timeout=20)
        time.sleep(max(0.0, 2.0 - (time.monotonic() - dispatched)))

    job = JobStatus.objects.get(task_id=result.id)
    assert JobStatus.objects.filter(task_id=result.id).count() == 1
    assert job.status == "succeeded"
    assert job.tags.count() == 2
    assert_times_in_order(job)
