"""A status write that fails is retried once on a fresh connection, then logged;
it never breaks the job. The failures are real database errors: on SQLite a
connection made read-only (``PRAGMA query_only``), on PostgreSQL a connection
killed by the server (``pg_terminate_backend``) or made read-only."""

import logging

import pytest
from django.db import connection

from job_status.models import JobStatus
from job_status.recording import JobInfo, Outcome, record
from job_status.statuses import Status, Transition
from tests.celery_app import app
from tests.testapp import tasks

pytestmark = pytest.mark.django_db(transaction=True)

INFO = JobInfo(job="app.tasks.export")


@pytest.fixture
def every_connection_read_only():
    options = connection.settings_dict["OPTIONS"]
    saved = dict(options)
    if connection.vendor == "sqlite":
        options["init_command"] = f"{saved.get('init_command') or ''} PRAGMA query_only = ON;"
    else:
        options["options"] = "-c default_transaction_read_only=on"
    connection.close()
    yield
    options.clear()
    options.update(saved)
    connection.close()


def break_this_connection():
    """Make the current connection fail its next write; a new one works again."""
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA query_only = ON")
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    # Killed by the server, from another session: the dropped connection of case P1.
    other = connection.copy()
    with other.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    other.close()


def test_write_is_retried_on_a_fresh_connection():
    break_this_connection()

    assert record("t1", Transition(Status.QUEUED, 1), info=INFO) is Outcome.CREATED
    assert JobStatus.objects.get(task_id="t1").status == "queued"


def test_write_that_fails_twice_is_logged_with_the_task_id(every_connection_read_only, caplog):
    with caplog.at_level(logging.ERROR, logger="job_status"):
        assert record("t2", Transition(Status.STARTED, 1), info=INFO) is Outcome.FAILED

    assert "could not record started for task t2" in caplog.text
    assert "read" in caplog.text  # "readonly database" / "read-only transaction"


def test_tracking_failure_never_breaks_the_job(every_connection_read_only, caplog):
    app.conf.task_always_eager = True
    try:
        result = tasks.add.delay(20, 22)
    finally:
        app.conf.task_always_eager = False

    assert result.get() == 42
    assert f"task {result.id}" in caplog.text
