"""Eager mode (case L7): no publish step, retries run recursively; the record is still right."""

import pytest

from job_status.models import JobStatus
from tests.celery_app import app
from tests.helpers import assert_times_in_order
from tests.testapp import tasks

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def eager():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_eager_job_has_one_succeeded_row_with_alias_and_tags():
    result = tasks.add.apply_async((2, 2), job_alias="adder", job_tags={"batch": "7"})

    assert result.get() == 4
    job = JobStatus.objects.get(task_id=result.id)
    assert JobStatus.objects.count() == 1
    assert job.status == "succeeded"
    assert job.alias == "adder"
    assert {tag.key: tag.value for tag in job.tags.all()}["batch"] == "7"
    assert_times_in_order(job)
    assert JobStatus.objects.for_job_alias("adder").first() == job


def test_eager_delay_is_recorded():
    result = tasks.add.delay(2, 2)

    assert JobStatus.objects.get(task_id=result.id).status == "succeeded"


def test_eager_retries_end_in_one_row():
    result = tasks.flaky.delay(failures=2)

    job = JobStatus.objects.get(task_id=result.id)
    assert JobStatus.objects.count() == 1
    assert (job.status, job.attempts) == ("succeeded", 3)
    assert_times_in_order(job)


def test_eager_failure_is_recorded():
    result = tasks.fail.apply(args=("eager boom",))
    assert result.failed()

    job = JobStatus.objects.get(task_id=result.id)
    assert (job.status, job.exception_message) == ("failed", "eager boom")
