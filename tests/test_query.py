"""The query API: every filter chains, and bad input names the problem."""

import pytest

from job_status.collection import JobStatusCollection
from job_status.models import JobStatus
from job_status.query import JobCounts
from job_status.statuses import Status
from tests.factories import make_job
from tests.testapp import tasks

pytestmark = pytest.mark.django_db


def ids(queryset):
    return {job.task_id for job in queryset}


def test_for_job_takes_a_task_or_its_dotted_name():
    export = make_job(job="tests.testapp.tasks.add")
    make_job(job="app.tasks.other")

    assert ids(JobStatus.objects.for_job(tasks.add)) == {export.task_id}
    assert ids(JobStatus.objects.for_job("tests.testapp.tasks.add")) == {export.task_id}


def test_for_job_rejects_something_without_a_name():
    with pytest.raises(TypeError, match="dotted name"):
        JobStatus.objects.for_job(42)  # deliberately wrong


def test_for_job_alias():
    report = make_job(alias="report")
    make_job(alias="export")

    assert ids(JobStatus.objects.for_job_alias("report")) == {report.task_id}


def test_where_tag_with_key_only_matches_tags_and_labels():
    labelled = make_job(tags={"nightly": None})
    valued = make_job(tags={"nightly": 3})
    make_job(tags={"daily": None})

    assert ids(JobStatus.objects.where_tag("nightly")) == {labelled.task_id, valued.task_id}


def test_where_tag_with_value_keeps_json_types():
    number = make_job(tags={"election": 5})
    string = make_job(tags={"election": "5"})
    boolean = make_job(tags={"election": True})

    assert ids(JobStatus.objects.where_tag("election", 5)) == {number.task_id}
    assert ids(JobStatus.objects.where_tag("election", 5.0)) == {number.task_id}
    assert ids(JobStatus.objects.where_tag("election", "5")) == {string.task_id}
    assert ids(JobStatus.objects.where_tag("election", True)) == {boolean.task_id}


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("=", 5, {5}),
        ("!=", 5, {4, 6}),
        ("<", 5, {4}),
        ("<=", 5, {4, 5}),
        (">", 5, {6}),
        (">=", 5, {5, 6}),
    ],
)
def test_where_tag_with_operator(operator, value, expected):
    jobs = {n: make_job(tags={"election": n}) for n in (4, 5, 6)}
    make_job(tags={"other": 5})

    found = ids(JobStatus.objects.where_tag("election", operator, value))

    assert found == {jobs[n].task_id for n in expected}


def test_where_tag_compares_strings_as_strings():
    apple, banana = make_job(tags={"fruit": "apple"}), make_job(tags={"fruit": "banana"})
    make_job(tags={"fruit": 3})

    assert ids(JobStatus.objects.where_tag("fruit", "<", "b")) == {apple.task_id}
    assert ids(JobStatus.objects.where_tag("fruit", ">=", "b")) == {banana.task_id}


def test_where_tag_chains_and_means_all_of_them():
    both = make_job(tags={"election": 5, "nightly": None})
    make_job(tags={"election": 5})
    make_job(tags={"nightly": None})

    assert ids(JobStatus.objects.where_tag("election", 5).where_tag("nightly")) == {both.task_id}


@pytest.mark.parametrize("operator", ["==", "<>", "like", "in", ""])
def test_where_tag_rejects_unknown_operator_naming_the_choices(operator):
    with pytest.raises(ValueError, match=r"Unknown tag operator .*'=', '!=', '<', '<=', '>', '>='"):
        JobStatus.objects.where_tag("election", operator, 5)


def test_where_tag_rejects_values_it_cannot_compare():
    with pytest.raises(ValueError, match="type list"):
        JobStatus.objects.where_tag("election", [5])
    with pytest.raises(ValueError, match="cannot order booleans"):
        JobStatus.objects.where_tag("flag", "<", True)
    with pytest.raises(ValueError, match="use where_tag"):
        JobStatus.objects.where_tag("flag", "=", None)


def test_where_status_with_one_or_several():
    queued, started, failed = make_job("queued"), make_job("started"), make_job("failed")

    assert ids(JobStatus.objects.where_status("queued")) == {queued.task_id}
    assert ids(JobStatus.objects.where_status(Status.FAILED)) == {failed.task_id}
    assert ids(JobStatus.objects.where_status(["queued", "started"])) == {
        queued.task_id,
        started.task_id,
    }
    assert ids(JobStatus.objects.where_not_status(["queued", "started"])) == {failed.task_id}


def test_where_status_rejects_unknown_status_naming_the_choices():
    with pytest.raises(ValueError, match=r"Unknown job status 'done'.*'queued'.*'cancelled'"):
        JobStatus.objects.where_status("done")
    with pytest.raises(ValueError, match="Unknown job status 'done'"):
        JobStatus.objects.where_not_status(["failed", "done"])


@pytest.mark.parametrize("status", list(Status))
def test_where_status_shortcuts_for_every_status(status):
    jobs = {s: make_job(s) for s in Status}
    others = {jobs[s].task_id for s in Status if s != status}

    assert ids(getattr(JobStatus.objects, f"where_{status.value}")()) == {jobs[status].task_id}
    assert ids(getattr(JobStatus.objects, f"where_not_{status.value}")()) == others


def test_seed_spelling_where_success():
    succeeded, failed = make_job("succeeded"), make_job("failed")

    assert ids(JobStatus.objects.where_success()) == {succeeded.task_id}
    assert ids(JobStatus.objects.where_not_success()) == {failed.task_id}


def test_where_finished_and_not_finished():
    queued, started, done = make_job("queued"), make_job("started"), make_job("cancelled")

    assert ids(JobStatus.objects.where_finished()) == {done.task_id}
    assert ids(JobStatus.objects.where_not_finished()) == {queued.task_id, started.task_id}


def test_where_running():
    queued, started, done = make_job("queued"), make_job("started"), make_job("succeeded")

    assert ids(JobStatus.objects.where_running()) == {started.task_id}
    assert ids(JobStatus.objects.where_not_running()) == {queued.task_id, done.task_id}


def test_first_is_the_most_recently_dispatched():
    make_job(alias="report")
    newest = make_job(alias="report")
    make_job(alias="other")

    assert JobStatus.objects.for_job_alias("report").first() == newest


def test_first_or_fail():
    job = make_job(alias="report")

    assert JobStatus.objects.for_job_alias("report").first_or_fail() == job
    with pytest.raises(JobStatus.DoesNotExist, match="No job status matches"):
        JobStatus.objects.for_job_alias("missing").first_or_fail()


def test_counts_are_answered_by_the_database(django_assert_num_queries):
    for status in ["queued", "started", "started", "succeeded", "failed", "cancelled"]:
        make_job(status)
    jobs = JobStatus.objects.all()

    with django_assert_num_queries(1):
        assert jobs.counts() == JobCounts(finished=3, successful=1, running=2, not_finished=3)
    with django_assert_num_queries(4):
        assert jobs.count_finished() == 3
        assert jobs.count_successful() == 1
        assert jobs.count_running() == 2
        assert jobs.count_not_finished() == 3


def test_collect_gives_a_collection_that_counts_what_it_holds(django_assert_num_queries):
    for status in ["queued", "started", "succeeded", "succeeded", "failed"]:
        make_job(status, alias="batch")

    with django_assert_num_queries(1):
        collection = JobStatus.objects.for_job_alias("batch").collect()
    with django_assert_num_queries(0):
        assert isinstance(collection, JobStatusCollection)
        assert isinstance(collection, list)
        assert len(collection) == 5
        assert collection[0].queued_at >= collection[-1].queued_at
        assert collection.count_finished() == 3
        assert collection.count_successful() == 2
        assert collection.count_running() == 1
        assert collection.count_not_finished() == 2


def test_django_meanings_are_kept():
    job = make_job(alias="report")

    assert JobStatus.objects.get(task_id=job.task_id) == job
    assert JobStatus.objects.all().count() == 1
    assert JobStatus.objects.for_job_alias("report").where_queued().count() == 1


def test_model_methods():
    queued, started = make_job("queued"), make_job("started")
    succeeded, failed = make_job("succeeded"), make_job("failed")

    assert queued.get_status() is Status.QUEUED
    assert [j.was_successful() for j in (queued, succeeded, failed)] == [False, True, False]
    assert [j.has_finished() for j in (queued, started, failed)] == [False, False, True]
    assert [j.is_running() for j in (queued, started, succeeded)] == [False, True, False]
    assert (queued.runtime, queued.wait_time) == (None, None)
    assert succeeded.runtime is not None
    assert succeeded.runtime.total_seconds() >= 0
    assert succeeded.wait_time is not None
    assert succeeded.wait_time.total_seconds() >= 0
