"""Dispatching tracked jobs: the queued row (case L10), options, and bad input."""

from datetime import datetime

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.test import override_settings

from job_status.contrib.celery import TrackedTask, tracked_task
from job_status.models import JobStatus
from job_status.tags import InvalidTag
from tests.testapp import tasks

# No worker consumes this queue: what the tests read is what dispatch alone wrote.
NOBODY = "nobody-listens"


def tags_of(job):
    return {tag.key: tag.value for tag in job.tags.all()}


@pytest.mark.django_db(transaction=True)
def test_status_right_after_dispatch_is_queued():
    """Case L10: read back at once, by id and by alias; never None, never an error."""
    result = tasks.add.apply_async((1, 2), queue=NOBODY, job_alias="report")

    by_id = JobStatus.objects.get(task_id=result.id)
    by_alias = JobStatus.objects.for_job_alias("report").first()

    assert by_alias == by_id
    assert by_id.status == "queued"
    assert by_id.queued_at is not None
    assert by_id.started_at is None
    assert by_id.finished_at is None
    assert by_id.queue == NOBODY
    counts = JobStatus.objects.all()
    assert (
        counts.count_finished(),
        counts.count_successful(),
        counts.count_running(),
        counts.count_not_finished(),
    ) == (0, 0, 0, 1)


@pytest.mark.django_db(transaction=True)
def test_dispatch_tags_merge_over_task_tags():
    result = tasks.add.apply_async((7, 8), queue=NOBODY, job_tags={"user": 3, "nightly": "no"})

    job = JobStatus.objects.get(task_id=result.id)
    assert job.alias == "adder"
    assert tags_of(job) == {"first": 7, "nightly": "no", "user": 3}


@pytest.mark.django_db(transaction=True)
def test_class_form_computes_tags_from_arguments():
    result = tasks.export.apply_async(kwargs={"election_id": 12}, queue=NOBODY)

    job = JobStatus.objects.get(task_id=result.id)
    assert (job.job, job.alias, tags_of(job)) == (
        "tests.testapp.tasks.export",
        "export",
        {"election": 12},
    )
    assert JobStatus.objects.for_job(tasks.export).where_tag("election", "=", 12).first() == job


@pytest.mark.django_db(transaction=True)
def test_custom_task_id_is_kept_as_given():
    tasks.add.apply_async((1, 1), task_id="export-42", queue=NOBODY)

    assert JobStatus.objects.get(task_id="export-42").status == "queued"


@pytest.mark.django_db
def test_dispatch_inside_a_transaction_writes_on_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        result = tasks.add.apply_async((1, 2), queue=NOBODY)
        assert not JobStatus.objects.filter(task_id=result.id).exists()

    assert len(callbacks) == 1
    assert JobStatus.objects.get(task_id=result.id).status == "queued"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("dispatch", "problem"),
    [
        (
            lambda: tasks.add.apply_async((1, 2), job_tags={"when": datetime(2026, 1, 1)}),
            "type datetime",
        ),
        (lambda: tasks.add.apply_async(([1], 2)), "type list"),  # the task's own tag function
        (lambda: tasks.add.apply_async((1, 2), job_tags="nightly"), "got the string"),
    ],
    ids=["dispatch-tag", "computed-tag", "tags-as-string"],
)
def test_unstorable_tags_are_refused_at_dispatch(dispatch, problem):
    with pytest.raises(InvalidTag, match=problem):
        dispatch()

    assert not JobStatus.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_alias_must_be_a_string():
    with pytest.raises(TypeError, match="alias must be a string"):
        tasks.add.apply_async((1, 2), job_alias=5)  # deliberately wrong
    assert not JobStatus.objects.exists()


def test_decorator_refuses_bad_fixed_tags_at_declaration():
    with pytest.raises(InvalidTag, match="type set"):

        @tracked_task(tags={"bad": {1}})
        def job():
            return None


def test_decorator_refuses_a_single_string_of_labels():
    with pytest.raises(InvalidTag, match="got the string 'urgent'"):

        @tracked_task(tags="urgent")
        def job():
            return None


def test_decorator_refuses_a_base_that_is_not_tracked():
    from celery import Task

    with pytest.raises(TypeError, match="subclass of TrackedTask"):

        @tracked_task(base=Task)
        def job():
            return None


def test_decorator_keeps_celery_options():
    @tracked_task(alias="x", bind=True, max_retries=7, name="tests.custom_name")
    def job(self):
        return None

    assert isinstance(job, TrackedTask)
    assert (job.name, job.max_retries, job.job_alias) == ("tests.custom_name", 7, "x")


@pytest.mark.django_db
def test_tracked_task_without_the_celery_app_installed_says_so():
    apps_without_celery = ["django.contrib.contenttypes", "django.contrib.auth", "job_status"]
    message = r"'job_status\.contrib\.celery' is not in INSTALLED_APPS"
    with (
        override_settings(INSTALLED_APPS=apps_without_celery),
        pytest.raises(ImproperlyConfigured, match=message),
    ):
        tasks.add.apply_async((1, 2), queue=NOBODY)


@pytest.mark.django_db
def test_calling_a_tracked_task_directly_records_nothing():
    assert tasks.add(2, 3) == 5
    with pytest.raises(ValueError, match="direct"):
        tasks.fail("direct")
    assert not JobStatus.objects.exists()
