"""On PostgreSQL, a status write outside a transaction is one statement
(``job_status.single_statement``): the row, its tags and its timeline entry
together, or nothing. (``test_recording`` runs every rule through it too.)"""

from datetime import timedelta
from functools import partial

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from job_status.models import JobStatus
from job_status.recording import Failure, JobInfo, Outcome, record
from job_status.statuses import Status, Transition

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

T0 = timezone.now()
INFO = JobInfo(
    job="app.tasks.export",
    alias="export",
    tags={"election": 5, "region": "nord", "nightly": None, "draft": False},
    queue="exports",
    queued_at=T0,
    arguments={"args": [5], "kwargs": {"format": "csv"}},
)


def statements(write):
    with CaptureQueriesContext(connection) as queries:
        outcome = write()
    return outcome, [query["sql"] for query in queries.captured_queries]


def test_a_first_dispatch_is_one_statement_with_its_tags_and_timeline(on_postgres):
    outcome, sql = statements(
        lambda: record("task-1", Transition(Status.QUEUED, 1), info=INFO, at=T0)
    )

    assert outcome is Outcome.CREATED
    assert len(sql) == 1, sql
    job = JobStatus.objects.get(task_id="task-1")
    assert (job.status, job.attempts, job.alias, job.queue) == ("queued", 1, "export", "exports")
    assert job.queued_at == T0
    assert job.arguments == {"args": [5], "kwargs": {"format": "csv"}}
    assert {tag.key: tag.value for tag in job.tags.all()} == INFO.tags
    assert [(t.event, t.attempt, t.at) for t in job.timeline.all()] == [("queued", 1, T0)]


def test_each_event_on_the_worker_is_one_statement(on_postgres):
    record("task-1", Transition(Status.QUEUED, 1), info=INFO, at=T0)
    started = T0 + timedelta(seconds=1)
    failed = T0 + timedelta(seconds=2)

    start, start_sql = statements(
        lambda: record("task-1", Transition(Status.STARTED, 1), info=INFO, at=started)
    )
    failure = Failure("builtins.ValueError", "Échec: ünïcödé 🐟 失败", "Traceback ...")
    end, end_sql = statements(
        lambda: record("task-1", Transition(Status.FAILED, 1), failure=failure, at=failed)
    )

    assert (start, end) == (Outcome.UPDATED, Outcome.UPDATED)
    assert (len(start_sql), len(end_sql)) == (1, 1), (start_sql, end_sql)
    job = JobStatus.objects.get(task_id="task-1")
    assert (job.status, job.started_at, job.finished_at) == ("failed", started, failed)
    assert job.exception_message == "Échec: ünïcödé 🐟 失败"
    assert [(t.event, t.at, t.exception_message) for t in job.timeline.all()] == [
        ("queued", T0, ""),
        ("started", started, ""),
        ("failed", failed, "Échec: ünïcödé 🐟 失败"),
    ]
    assert job.timeline.get(event="failed").traceback == "Traceback ..."


def test_an_event_the_row_does_not_take_leaves_no_timeline_entry(on_postgres):
    record("task-1", Transition(Status.QUEUED, 1), info=INFO, at=T0)
    record("task-1", Transition(Status.SUCCEEDED, 1), info=INFO, at=T0 + timedelta(seconds=2))

    late_start = record("task-1", Transition(Status.STARTED, 1), info=INFO)

    assert late_start is Outcome.IGNORED
    job = JobStatus.objects.get(task_id="task-1")
    assert job.status == Status.SUCCEEDED
    assert [t.event for t in job.timeline.all()] == ["queued", "succeeded"]


def test_a_dispatch_that_finds_its_row_changes_nothing_of_it(on_postgres):
    """The insert fails as a whole (no second tag, no reset), and the general
    path decides: the worker's row stays, the dispatch joins the timeline."""
    record("task-1", Transition(Status.STARTED, 1), info=INFO, at=T0 + timedelta(seconds=1))

    late = record("task-1", Transition(Status.QUEUED, 1), info=INFO, at=T0, always_in_timeline=True)

    assert late is Outcome.IGNORED
    job = JobStatus.objects.get(task_id="task-1")
    assert job.status == Status.STARTED
    assert job.tags.count() == len(INFO.tags)
    assert [t.event for t in job.timeline.all()] == ["queued", "started"]


def test_creating_a_row_sends_the_models_save_signals(on_postgres):
    """As ``save()`` does on the ORM's path, with the row's primary key set."""
    from django.db.models.signals import post_save, pre_save

    seen = []

    def receiver(signal, instance, **kwargs):
        seen.append((signal, instance.task_id, instance.pk, kwargs.get("created")))

    pre_save.connect(receiver, sender=JobStatus)
    post_save.connect(receiver, sender=JobStatus)
    try:
        record("task-1", Transition(Status.QUEUED, 1), info=INFO, at=T0)
    finally:
        pre_save.disconnect(receiver, sender=JobStatus)
        post_save.disconnect(receiver, sender=JobStatus)

    pk = JobStatus.objects.get(task_id="task-1").pk
    assert seen == [(pre_save, "task-1", None, None), (post_save, "task-1", pk, True)]


def test_many_tags_go_in_one_statement_up_to_the_limit_then_through_the_orm(on_postgres):
    from job_status.single_statement import MAX_TAGS

    for task_id, count in [("many", MAX_TAGS), ("more", MAX_TAGS + 1)]:
        info = JobInfo(job="app.tasks.export", tags={f"k{i}": i for i in range(count)})
        write = partial(record, task_id, Transition(Status.QUEUED, 1), info=info)
        outcome, sql = statements(write)

        assert outcome is Outcome.CREATED
        job = JobStatus.objects.get(task_id=task_id)
        assert job.tags.count() == count
        assert JobStatus.objects.where_tag(f"k{count - 1}", count - 1).get() == job
        assert job.timeline.count() == 1
        with_clauses = [statement for statement in sql if statement.startswith("WITH")]
        assert len(with_clauses) == (1 if count <= MAX_TAGS else 0), count
