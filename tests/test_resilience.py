"""A status write that fails is retried once on a fresh connection, then logged;
it never breaks the job. The failures are real SQLite errors ("attempt to write a
readonly database"), made with ``PRAGMA query_only``."""

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
    saved = options.get("init_command")
    options["init_command"] = f"{saved or ''} PRAGMA query_only = ON;"
    connection.close()
    yield
    options["init_command"] = saved
    connection.close()


def test_write_is_retried_on_a_fresh_connection():
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA query_only = ON")  # only this connection refuses writes

    assert record("t1", Transition(Status.QUEUED, 1), info=INFO) is Outcome.CREATED
    assert JobStatus.objects.get(task_id="t1").status == "queued"


def test_write_that_fails_twice_is_logged_with_the_task_id(every_connection_read_only, caplog):
    with caplog.at_level(logging.ERROR, logger="job_status"):
        assert record("t2", Transition(Status.STARTED, 1), info=INFO) is Outcome.FAILED

    assert "could not record started for task t2" in caplog.text
    assert "readonly database" in caplog.text


def test_tracking_failure_never_breaks_the_job(every_connection_read_only, caplog):
    app.conf.task_always_eager = True
    try:
        result = tasks.add.delay(20, 22)
    finally:
        app.conf.task_always_eager = False

    assert result.get() == 42
    assert f"task {result.id}" in caplog.text
