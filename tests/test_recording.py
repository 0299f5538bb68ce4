"""The recorder's conditional upserts, driven directly (no worker needed): case L4 and friends."""

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from job_status.models import JobStatus
from job_status.recording import Failure, JobInfo, Outcome, record
from job_status.statuses import State, Status, Transition, may_replace


@pytest.fixture(
    autouse=True,
    params=[
        pytest.param("in_a_transaction", marks=pytest.mark.django_db),
        pytest.param("autocommit", marks=pytest.mark.django_db(transaction=True)),
    ],
)
def database(request):
    """Every case twice: inside the test's transaction, where writes take the
    ORM's path, and in autocommit, as on a worker, where PostgreSQL takes
    single statements (``job_status.single_statement``)."""
    return request.param


INFO = JobInfo(job="app.tasks.export", alias="export", tags={"election": 5, "nightly": None})
T0 = timezone.now()


def publish(task_id, at=T0):
    return record(task_id, Transition(Status.QUEUED, 1), info=INFO, at=at)


def prerun(task_id, at=T0 + timedelta(seconds=1)):
    return record(task_id, Transition(Status.STARTED, 1), info=INFO, at=at)


def success(task_id, at=T0 + timedelta(seconds=2)):
    return record(task_id, Transition(Status.SUCCEEDED, 1), info=INFO, at=at)


def failure(task_id, at=T0 + timedelta(seconds=2)):
    return record(
        task_id,
        Transition(Status.FAILED, 1),
        info=INFO,
        failure=Failure("builtins.ValueError", "boom"),
        at=at,
    )


def revoked(task_id, at=T0 + timedelta(seconds=2)):
    return record(task_id, Transition(Status.CANCELLED, 1), info=INFO, at=at)


@pytest.mark.parametrize(
    ("events", "final"),
    [
        ((publish, revoked, prerun), Status.CANCELLED),
        ((publish, success, prerun), Status.SUCCEEDED),
        ((publish, failure, prerun), Status.FAILED),
        ((prerun, publish), Status.STARTED),
        # Also without the publisher, and with the publisher last of all.
        ((prerun, success, publish), Status.SUCCEEDED),
        ((success, prerun, publish), Status.SUCCEEDED),
    ],
    ids=lambda value: "-".join(e.__name__ for e in value) if isinstance(value, tuple) else None,
)
def test_out_of_order_events_end_in_one_right_row(events, final):
    for event in events:
        event("task-1")

    job = JobStatus.objects.get(task_id="task-1")
    assert JobStatus.objects.count() == 1
    assert job.status == final
    assert job.started_at is None or job.finished_at is None or job.started_at <= job.finished_at
    assert job.queued_at <= (job.started_at or job.queued_at)
    assert {tag.key: tag.value for tag in job.tags.all()} == {"election": 5, "nightly": None}


def test_publisher_late_insert_keeps_the_worker_row():
    prerun("task-1")
    success("task-1")

    assert publish("task-1") is Outcome.IGNORED

    job = JobStatus.objects.get(task_id="task-1")
    assert job.status == Status.SUCCEEDED
    assert job.tags.count() == 2


def test_times_are_clamped_when_clocks_disagree():
    publish("task-1", at=T0)
    prerun("task-1", at=T0 - timedelta(seconds=5))  # the worker's clock is behind
    success("task-1", at=T0 - timedelta(seconds=10))

    job = JobStatus.objects.get(task_id="task-1")
    assert job.started_at is not None
    assert job.finished_at is not None
    assert job.queued_at <= job.started_at <= job.finished_at


def test_failure_keeps_exception_and_success_clears_it_on_a_later_attempt():
    failure("task-1")
    job = JobStatus.objects.get(task_id="task-1")
    assert (job.exception_type, job.exception_message) == ("builtins.ValueError", "boom")

    record("task-1", Transition(Status.STARTED, 2), info=INFO)
    record("task-1", Transition(Status.SUCCEEDED, 2), info=INFO)

    job.refresh_from_db()
    assert (job.status, job.attempts, job.exception_type) == (Status.SUCCEEDED, 2, "")


def test_event_without_row_or_info_is_not_recorded(caplog):
    assert record("nowhere", Transition(Status.SUCCEEDED, 1)) is Outcome.FAILED
    assert not JobStatus.objects.exists()
    assert "nowhere" in caplog.text


STATES = [
    State(status, attempt, provisional)
    for status, attempt, provisional in itertools.product(Status, (1, 2), (False, True))
    if not provisional or status in (Status.FAILED, Status.CANCELLED)
]
TRANSITIONS = [
    Transition(status, attempt) for status, attempt in itertools.product(Status, (1, 2, None))
]


@pytest.mark.parametrize("current", STATES, ids=str)
def test_database_update_agrees_with_the_rules(current):
    """The SQL condition and the pure rule must give the same answer for every pair."""
    for number, incoming in enumerate(TRANSITIONS):
        task_id = f"t{number}"
        JobStatus.objects.create(
            task_id=task_id,
            job="x",
            status=current.status,
            attempts=current.attempt,
            status_is_provisional=current.provisional,
            queued_at=T0,
        )
        outcome = record(task_id, incoming, info=INFO)
        assert (outcome is Outcome.UPDATED) is may_replace(current, incoming), (current, incoming)


def test_a_dispatch_the_worker_overtook_is_still_in_the_timeline(
    django_capture_on_commit_callbacks,
):
    from job_status.recording import record_dispatch

    prerun("task-1", at=T0 + timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):  # the test runs in a transaction
        record_dispatch("task-1", Transition(Status.QUEUED, 1), JobInfo(job="x", queued_at=T0))

    job = JobStatus.objects.get(task_id="task-1")
    assert job.status == Status.STARTED
    assert [(t.event, t.at) for t in job.timeline.all()] == [
        ("queued", T0),
        ("started", T0 + timedelta(seconds=1)),
    ]


def test_success_completes_the_progress_in_counts_too():
    prerun("task-1")
    JobStatus.objects.filter(task_id="task-1").update(
        progress=90.0, progress_current=9, progress_total=10
    )

    success("task-1")

    job = JobStatus.objects.get(task_id="task-1")
    assert (job.progress, job.progress_current, job.progress_total) == (100.0, 10, 10)
