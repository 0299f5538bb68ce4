"""Bad input found by trying to break things: each gets a clear error, or is stored safely."""

import pytest
from django.db import transaction

from job_status.contrib.celery import TrackedTask, tracked_task
from job_status.control import CannotRetry
from job_status.models import JobStatus
from job_status.recording import Failure, JobInfo, record
from job_status.statuses import Status, Transition
from job_status.tags import InvalidTag
from tests.celery_app import app
from tests.factories import make_job
from tests.helpers import wait_for_finish
from tests.testapp import tasks

NOBODY = "nobody-listens"


@pytest.mark.parametrize("value", [None, 5, b"queued", object()])
def test_where_status_with_something_that_is_not_a_status(value):
    with pytest.raises(ValueError, match=r"Unknown job status .*expected one of 'queued'"):
        JobStatus.objects.where_status(value)


def test_for_job_alias_needs_a_string():
    with pytest.raises(TypeError, match="alias as a string"):
        JobStatus.objects.for_job_alias(None)


@pytest.mark.django_db
def test_counts_work_on_a_slice():
    for status in ["queued", "succeeded", "failed"]:
        make_job(status)
    newest_two = JobStatus.objects.all()[:2]

    assert newest_two.count_finished() == 2
    counts = newest_two.counts()
    assert (counts.finished, counts.successful, counts.not_finished) == (2, 1, 0)


def test_nul_characters_in_tags_are_refused():
    with pytest.raises(InvalidTag, match="NUL"):
        tasks.add.apply_async((1, 2), job_tags={"k": "a\x00b"})


@pytest.mark.django_db
def test_nul_characters_in_failures_are_stored_escaped():
    record(
        "t",
        Transition(Status.FAILED, 1),
        info=JobInfo(job="x\x00y"),
        failure=Failure("T", "bad\x00byte"),
    )

    job = JobStatus.objects.get()
    assert (job.job, job.exception_message) == ("x\\x00y", "bad\\x00byte")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"job_alias": "a" * 256}, "at most 255"),
        ({"task_id": "t" * 256}, "at most 255"),
        ({"task_id": ""}, "non-empty"),
        ({"task_id": "a\x00b"}, "NUL"),
    ],
)
def test_alias_and_task_id_that_cannot_be_stored_are_refused(options, problem):
    with pytest.raises((TypeError, ValueError), match=problem):
        tasks.add.apply_async((1, 2), queue=NOBODY, **options)
    assert not JobStatus.objects.exists()


def test_declaration_checks_alias_and_fixed_tags():
    with pytest.raises(TypeError, match="alias must be a string"):
        tracked_task(alias=5)  # type: ignore[call-overload]  # deliberately wrong
    with pytest.raises(InvalidTag):

        class BadTags(TrackedTask):
            job_tags = {"when": object()}


@pytest.mark.django_db(transaction=True)
def test_labels_given_as_an_iterator_are_kept():
    @tracked_task(tags=iter(["a", "b"]), name="tests.iterator_labels")
    def job():
        return None

    result = job.apply_async(queue=NOBODY)
    assert {tag.key for tag in JobStatus.objects.get(task_id=result.id).tags.all()} == {"a", "b"}


@pytest.mark.django_db(transaction=True)
def test_delay_on_commit_checks_tags_when_called():
    with pytest.raises(InvalidTag), transaction.atomic():
        tasks.add.delay_on_commit([1], 2)


@pytest.mark.django_db(transaction=True)
def test_eager_failures_are_recorded_when_exceptions_propagate():
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    try:
        with pytest.raises(ValueError, match="eager boom"):
            tasks.fail.apply_async(("eager boom",), task_id="p1")
    finally:
        app.conf.task_always_eager = app.conf.task_eager_propagates = False

    job = JobStatus.objects.get(task_id="p1")
    assert (job.status, job.exception_message) == ("failed", "eager boom")
    assert job.finished_at is not None


@pytest.mark.worker
def test_a_job_sent_by_name_with_unstorable_computed_tags_still_retries(worker):
    result = app.send_task("tests.testapp.tasks.retry_once_with_computed_tags", ([1, 2],))

    job = wait_for_finish(result.id)

    assert (job.status, job.attempts) == ("succeeded", 2)
    assert not job.tags.exists()


@pytest.mark.worker
@pytest.mark.parametrize("argument", [float("nan"), float("inf")])
def test_arguments_that_cannot_be_stored_still_leave_a_record(worker, argument):
    result = tasks.fail_if.delay(argument)

    job = wait_for_finish(result.id)

    assert job.status == "failed"
    assert job.arguments is None
    with pytest.raises(CannotRetry, match="no stored arguments"):
        job.retry()


@pytest.mark.worker
def test_a_tag_function_that_fails_on_the_arguments_still_leaves_a_record(worker):
    result = app.send_task("tests.testapp.tasks.add", (1,))  # add takes two arguments

    job = wait_for_finish(result.id)

    assert (job.status, job.exception_type) == ("failed", "builtins.TypeError")
    assert not job.tags.exists()


@pytest.mark.worker
def test_an_exception_whose_str_fails_keeps_its_type(worker):
    job = wait_for_finish(tasks.raise_bad_str.delay().id)

    assert job.exception_type == "tests.testapp.tasks.BadStr"
    assert "could not be rendered" in job.exception_message


@pytest.mark.worker
def test_a_body_that_raises_ignore_ends_its_record(worker):
    job = wait_for_finish(tasks.ignore_itself.delay().id)

    assert job.status == "succeeded"
    assert "Ignore" in job.timeline.last().note


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"current": 1, "total": float("inf")}, TypeError),
        ({"current": 1.5, "total": 3}, TypeError),
        ({"current": 10**20, "total": 10**21}, ValueError),
    ],
)
def test_progress_counts_that_cannot_be_stored_are_refused(arguments, error):
    from job_status.running import JobHandle

    with pytest.raises(error):
        JobHandle("t").set_progress(**arguments)


@pytest.mark.django_db
@pytest.mark.parametrize("value", [float("nan"), "a\x00b"])
def test_signal_parameters_that_cannot_be_stored_are_refused(value):
    job = make_job("started")

    with pytest.raises(TypeError, match="cannot be stored"):
        job.send_signal("pause", {"x": value})


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("parameters", "problem"),
    [
        (["by", 2], "must be a dict, got list"),
        ("by=2", "must be a dict, got str"),
        ({1: 2}, "string keys"),
    ],
)
def test_signal_parameters_that_are_not_a_dict_of_names_are_refused(parameters, problem):
    job = make_job("started")

    with pytest.raises(TypeError, match=problem):
        job.send_signal("bump", parameters)
    assert not job.signals.exists()


@pytest.mark.django_db(transaction=True)
def test_eager_retries_with_propagation_end_failed_and_say_why():
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    try:
        with pytest.raises(Exception, match="Retry"):
            tasks.flaky.apply_async(kwargs={"failures": 1}, task_id="p2")
    finally:
        app.conf.task_always_eager = app.conf.task_eager_propagates = False

    job = JobStatus.objects.get(task_id="p2")
    assert job.status == "failed"
    assert "does not run retries" in job.timeline.last().note


@pytest.mark.django_db
def test_reaper_durations_out_of_range_are_refused():
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="from more than 0 to"):
        call_command("job_status_reap", "--stale-after", "inf", stdout=StringIO())
    call_command("job_status_reap", "--grace", "0", stdout=StringIO())  # zero grace is fine


@pytest.mark.django_db(transaction=True)
def test_a_custom_task_id_already_recorded_is_refused_and_the_old_row_kept():
    tasks.fail.apply_async(("first run",), task_id="report-7", queue=NOBODY)

    with pytest.raises(ValueError, match="'report-7' is already the id of a recorded job"):
        tasks.add.apply_async((1, 2), task_id="report-7", queue=NOBODY)
    with pytest.raises(ValueError, match="already the id"):
        tasks.add.apply_async_on_commit((1, 2), task_id="report-7", queue=NOBODY)

    job = JobStatus.objects.get(task_id="report-7")
    assert job.job == tasks.fail.name
    assert [t.event for t in job.timeline.all()] == ["queued"]


@pytest.mark.django_db(transaction=True)
def test_a_celery_task_id_is_not_looked_up_at_dispatch():
    """Celery's ids are UUIDs: a dispatch writes its row and reads nothing."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        tasks.add.apply_async((1, 2), task_id="0e3f3f5e-3c1a-4b6e-9a57-5f3d2b9c1d10", queue=NOBODY)

    assert not [q for q in queries.captured_queries if q["sql"].startswith("SELECT")]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("options", "error"),
    [({"job_tags": {"when": object()}}, InvalidTag), ({"job_alias": 5}, TypeError)],
)
def test_a_chain_step_with_bad_tags_or_alias_is_refused_at_the_first_dispatch(options, error):
    """Not when the worker dispatches the step, after the step before it ran."""
    from celery import chain

    with pytest.raises(error):
        chain(tasks.add.s(1, 2), tasks.add.s(3).set(**options)).apply_async(queue=NOBODY)

    assert not JobStatus.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_apply_takes_alias_and_tags_and_refuses_bad_ones():
    result = tasks.add.apply((1, 2), job_alias="in-place", job_tags={"run": 3})

    job = JobStatus.objects.get(task_id=result.id)
    assert (result.get(), job.status, job.alias) == (3, "succeeded", "in-place")
    assert {tag.key: tag.value for tag in job.tags.all()} == {"first": 1, "nightly": None, "run": 3}
    with pytest.raises(InvalidTag):
        tasks.add.apply((1, 2), job_tags={"when": object()})
    assert JobStatus.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_tag_canvas_checks_every_members_own_alias_and_tags_before_anything_is_sent():
    from celery import group

    from job_status.contrib.celery import tag_canvas

    for bad, error in (
        ({"job_tags": {"when": object()}}, InvalidTag),
        ({"job_alias": 5}, TypeError),
    ):
        canvas = group(tasks.add.s(1, 2), tasks.add.s(3, 4).set(**bad))
        with pytest.raises(error):
            tag_canvas(canvas, tags={"run": 1}).apply_async(queue=NOBODY)

    assert not JobStatus.objects.exists()


# Text that is not valid Unicode: a lone surrogate, as os.listdir() and sys.argv
# decode bytes that are not UTF-8.
SURROGATE = tasks.UNDECODABLE_NAME


@pytest.mark.worker
def test_a_lone_surrogate_in_messages_and_the_failure_is_stored_escaped(worker):
    job = wait_for_finish(tasks.fail_on_undecodable_name.delay().id)

    assert (job.status, job.exception_type) == ("failed", "builtins.ValueError")
    assert job.exception_message == "cannot read caf\\udce9.csv"
    assert [m.text for m in job.get_messages()] == ["reading caf\\udce9.csv", "still here"]


@pytest.mark.parametrize(
    "options",
    [{"job_tags": {"file": SURROGATE}}, {"job_tags": {SURROGATE: 1}}, {"job_alias": SURROGATE}],
)
def test_a_lone_surrogate_in_tags_or_alias_is_refused_at_dispatch(options):
    with pytest.raises(ValueError, match="lone surrogate"):
        tasks.add.apply_async((1, 2), queue=NOBODY, **options)


def test_a_lone_surrogate_in_a_computed_tag_is_refused_at_dispatch():
    with pytest.raises(InvalidTag, match="lone surrogate"):
        tasks.add.apply_async((SURROGATE, 2), queue=NOBODY)  # add's tags hold its first argument


def test_a_lone_surrogate_in_a_tag_query_is_refused_when_the_query_is_built():
    with pytest.raises(InvalidTag, match="lone surrogate"):
        JobStatus.objects.where_tag("file", SURROGATE)


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["a\x00b", SURROGATE])
def test_filters_on_text_no_row_can_hold_match_nothing(text):
    make_job("queued", alias="a", job="a")

    for query in (
        JobStatus.objects.for_job_alias(text),
        JobStatus.objects.for_job(text),
        JobStatus.objects.for_batch(text),
    ):
        assert query.count() == 0
    with pytest.raises(JobStatus.DoesNotExist, match="is not a task id"):
        JobStatus.objects.get_by_task_id(text)
