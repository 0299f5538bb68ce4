"""Tracked jobs run by a real worker process: success, failure and retries."""

import pytest

from job_status.models import JobStatus
from tests.helpers import assert_times_in_order, wait_for_finish
from tests.testapp import tasks

pytestmark = pytest.mark.worker


def test_success_is_recorded_once_with_alias_and_tags(worker):
    result = tasks.add.delay(2, 3)

    job = wait_for_finish(result.id)

    assert JobStatus.objects.filter(task_id=result.id).count() == 1
    assert job.status == "succeeded"
    assert job.job == "tests.testapp.tasks.add"
    assert job.alias == "adder"
    assert {tag.key: tag.value for tag in job.tags.all()} == {"first": 2, "nightly": None}
    assert job.attempts == 1
    assert job.queue == "celery"
    assert_times_in_order(job)
    assert job.runtime is not None


def test_failure_is_recorded_with_exception(worker):
    result = tasks.fail.delay("it broke")

    job = wait_for_finish(result.id)

    assert job.status == "failed"
    assert job.exception_type == "builtins.ValueError"
    assert job.exception_message == "it broke"
    assert job.attempts == 1
    assert_times_in_order(job)


def test_retry_then_success_is_one_row(worker):
    result = tasks.flaky.delay(failures=2)

    job = wait_for_finish(result.id)

    assert JobStatus.objects.filter(task_id=result.id).count() == 1
    assert job.status == "succeeded"
    assert job.attempts == 3
    assert job.exception_type == ""
    assert_times_in_order(job)


def test_retries_that_run_out_end_failed(worker):
    result = tasks.always_retry.delay()

    job = wait_for_finish(result.id)

    assert JobStatus.objects.filter(task_id=result.id).count() == 1
    assert job.status == "failed"
    assert job.attempts == 3
    assert job.exception_type == "builtins.ValueError"
    assert job.exception_message == "boom"
