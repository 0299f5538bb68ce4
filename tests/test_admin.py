"""The admin: a read-only list and detail, filters, search, cancel and retry actions."""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from kombu.exceptions import OperationalError

from job_status import admin as job_admin
from job_status.engines import get_engine
from job_status.models import JobMessage, JobStatus
from job_status.recording import Failure, record
from job_status.statuses import Status, Transition
from tests.factories import make_job

pytestmark = pytest.mark.django_db

LIST = "/admin/job_status/jobstatus/"
L9_TEXT = "Échec: ünïcödé 🐟 失败"


def staff(*perms):
    person = User.objects.create_user(f"staff-{len(perms)}", password="x", is_staff=True)
    for codename in perms:
        person.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(person)
    return client


@pytest.fixture
def viewer():
    return staff("view_jobstatus")


@pytest.fixture
def operator():
    return staff("view_jobstatus", "change_jobstatus")


def detail(job):
    return f"{LIST}{job.pk}/change/"


def failed_with_l9_text():
    job = make_job("started")
    record(
        job.task_id,
        Transition(Status.FAILED, 1),
        failure=Failure("builtins.ValueError", L9_TEXT, "Traceback ...\nValueError: " + L9_TEXT),
    )
    JobMessage.objects.create(
        job_status=job, level="warning", text=L9_TEXT, created_at=job.queued_at
    )
    return JobStatus.objects.get(pk=job.pk)


def test_the_list_shows_status_progress_job_alias_tags_and_l9_text(viewer):
    make_job("started", job="app.tasks.export", alias="export", tags={"election": 5})
    failed_with_l9_text()
    JobStatus.objects.filter(alias="export").update(progress=40.0)

    page = viewer.get(LIST).content.decode()

    assert "app.tasks.export" in page
    assert "election=5" in page
    assert '<progress max="100" value="40.0"' in page
    assert "job-status-started" in page
    assert L9_TEXT in page


def test_the_detail_shows_timeline_messages_and_exception_and_saves_nothing(viewer, operator):
    job = failed_with_l9_text()

    page = viewer.get(detail(job)).content.decode()

    assert page.count(L9_TEXT) >= 3  # exception message, timeline, message
    assert "builtins.ValueError" in page
    assert 'name="_save"' not in page
    assert operator.post(detail(job), {"alias": "changed"}).status_code == 403
    assert JobStatus.objects.get(pk=job.pk).alias == ""


def test_nobody_adds_or_deletes_records_here(operator):
    job = make_job()
    assert operator.get(f"{LIST}add/").status_code == 403
    assert operator.post(f"{LIST}{job.pk}/delete/", {"post": "yes"}).status_code == 403
    assert JobStatus.objects.filter(pk=job.pk).exists()


def test_filters_by_status_job_alias_tag_and_date(viewer):
    make_job(task_id="old-export", job="app.export", alias="export", tags={"election": 5})
    JobStatus.objects.filter(task_id="old-export").update(
        queued_at=JobStatus.objects.get(task_id="old-export").queued_at - timedelta(days=30)
    )
    make_job(
        "succeeded", task_id="new-export", job="app.export", alias="export", tags={"election": 6}
    )
    make_job("failed", task_id="import", job="app.import")

    def shown(query):
        ids = {"old-export", "new-export", "import"}
        page = viewer.get(LIST + query).content.decode()
        return {task_id for task_id in ids if f">{task_id}<" in page}

    assert shown("?status__exact=failed") == {"import"}
    assert shown("?job=app.export") == {"old-export", "new-export"}
    assert shown("?alias=export&status__exact=succeeded") == {"new-export"}
    assert shown("?tag=election>=6") == {"new-export"}
    since = JobStatus.objects.get(task_id="import").queued_at - timedelta(days=1)
    assert shown("?" + urlencode({"queued_at__gte": since.isoformat()})) == {"new-export", "import"}


def test_a_bad_tag_filter_says_why_and_shows_nothing(viewer):
    make_job(tags={"election": 5})
    page = viewer.get(LIST + "?tag=%3D5", follow=True).content.decode()
    assert "tag: &#x27;=5&#x27; is not" in page.lower()
    assert "0 job statuses" in page


def test_search_finds_a_task_id_exactly_through_its_index(viewer):
    make_job(task_id="abc-123")
    make_job(task_id="abc-1234")
    make_job(task_id="0f8e4b52-1d1a-4a3e-9a57-3c1e2f1f0a11")

    with CaptureQueriesContext(connection) as captured:
        page = viewer.get(LIST + "?q=abc-123").content.decode()
    assert ">abc-123<" in page
    assert ">abc-1234<" not in page
    # An equality on the column (its unique index), not UPPER() or LIKE over the table.
    searches = [q["sql"] for q in captured if "abc-123" in q["sql"] or "%s" in q["sql"]]
    assert not [sql for sql in searches if "UPPER(" in sql.upper() or " LIKE " in sql.upper()]
    assert viewer.get(LIST + "?q=%00").status_code == 200  # a NUL matches nothing
    upper_uuid = viewer.get(LIST + "?q=0F8E4B521D1A4A3E9A573C1E2F1F0A11").content.decode()
    assert ">0f8e4b52-1d1a-4a3e-9a57-3c1e2f1f0a11<" in upper_uuid


def test_the_list_costs_the_same_queries_for_5_jobs_as_for_50(viewer):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert viewer.get(LIST).status_code == 200
        return len(captured)

    for n in range(5):
        make_job("started", tags={"n": n, "label": None})
    few = queries()
    for n in range(45):
        job = make_job("failed", tags={"n": n})
        JobMessage.objects.create(job_status=job, text="working", created_at=job.queued_at)
    assert queries() == few


def test_the_list_never_counts_past_its_cap(viewer, monkeypatch):
    monkeypatch.setattr(job_admin, "COUNT_CAP", 3)
    for _ in range(5):
        make_job()
    with CaptureQueriesContext(connection) as captured:
        page = viewer.get(LIST).content.decode()
    assert "More than" in page
    counts = [query["sql"] for query in captured if "COUNT(" in query["sql"].upper()]
    assert counts
    assert all("LIMIT" in sql.upper() for sql in counts)


def select(action, *jobs, confirmed=False):
    data = {"action": action, "_selected_action": [job.pk for job in jobs]}
    if confirmed:
        data["confirmed"] = "yes"
    return data


def test_cancel_asks_first_then_cancels_and_reports(operator):
    queued, finished = make_job(), make_job("succeeded")

    asked = operator.post(LIST, select("cancel_jobs", queued, finished))
    assert asked.status_code == 200
    assert "Are you sure?" in asked.content.decode()
    assert JobStatus.objects.get(pk=queued.pk).status == "queued"

    done = operator.post(LIST, select("cancel_jobs", queued, finished, confirmed=True), follow=True)
    report = done.content.decode()
    assert "1 job cancelled." in report
    assert "1 job had finished and was left alone." in report
    assert JobStatus.objects.get(pk=queued.pk).status == "cancelled"
    assert JobStatus.objects.get(pk=finished.pk).status == "succeeded"


@pytest.mark.django_db(transaction=True)  # the dispatch writes its row on commit
def test_retry_dispatches_again_and_reports_what_it_could_not(operator):
    from tests.testapp import tasks

    failed = JobStatus.objects.get(task_id=tasks.fail_if.apply_async(("x",), queue="nowhere").id)
    failed.cancel()
    running = make_job("started")

    done = operator.post(LIST, select("retry_jobs", failed, running, confirmed=True), follow=True)
    report = done.content.decode()

    assert "1 job dispatched again." in report
    again = JobStatus.objects.get(retry_of=failed)
    assert f"Job {failed.task_id} dispatched again as {again.task_id}." in report
    assert "only failed or cancelled jobs can be retried" in report


def test_the_actions_need_the_change_permission(viewer):
    job = make_job()
    page = viewer.get(LIST).content.decode()
    assert "cancel_jobs" not in page
    viewer.post(LIST, select("cancel_jobs", job, confirmed=True))
    assert JobStatus.objects.get(pk=job.pk).status == "queued"


def test_select_all_acts_on_the_filtered_list_without_a_field_per_job(operator, monkeypatch):
    monkeypatch.setattr(job_admin, "CONFIRM_SAMPLE", 2)
    exports = [make_job(alias="export") for _ in range(5)]
    other = make_job(alias="import")
    across = {"action": "cancel_jobs", "select_across": "1", "index": "0"}

    asked = operator.post(LIST + "?alias=export", {**across, "_selected_action": [exports[0].pk]})
    page = asked.content.decode()
    assert "these 5 jobs" in page
    assert "and 3 more" in page
    assert page.count('name="_selected_action"') <= 1  # not one per job
    assert 'name="select_across" value="1"' in page

    operator.post(
        LIST + "?alias=export",
        {**across, "confirmed": "yes", "_selected_action": [exports[0].pk]},
    )
    assert set(JobStatus.objects.filter(alias="export").values_list("status", flat=True)) == {
        "cancelled"
    }
    assert JobStatus.objects.get(pk=other.pk).status == "queued"


def test_an_action_refuses_more_jobs_than_its_limit(operator, monkeypatch):
    monkeypatch.setattr(job_admin, "MAX_ACTION_JOBS", 3)
    for _ in range(4):
        make_job()
    across = {"action": "cancel_jobs", "select_across": "1", "index": "0", "confirmed": "yes"}
    first = JobStatus.objects.first()
    assert first is not None

    response = operator.post(LIST, {**across, "_selected_action": [first.pk]}, follow=True)

    assert "At most 3 jobs at a time" in response.content.decode()
    assert not JobStatus.objects.filter(status="cancelled").exists()


def refused(*args, **kwargs):
    raise OperationalError("[Errno 111] Connection refused")


def test_a_cancel_the_broker_refuses_is_reported_per_job_and_the_others_go_on(
    operator, monkeypatch
):
    """A real broker outage cannot be staged here reliably, so the failing call
    (the engine's revoke, for one job) is replaced."""
    stuck, fine = make_job(task_id="stuck"), make_job(task_id="fine")
    revoke = get_engine().revoke
    monkeypatch.setattr(
        get_engine(),
        "revoke",
        lambda task_id, **kw: refused() if task_id == "stuck" else revoke(task_id, **kw),
    )

    done = operator.post(LIST, select("cancel_jobs", stuck, fine, confirmed=True), follow=True)
    report = [str(message) for message in done.context["messages"]]

    assert "1 job cancelled." in report
    [failure] = [line for line in report if "stuck" in line]
    assert "Connection refused" in failure
    assert "recorded as cancelled and will not run" in failure
    assert JobStatus.objects.get(pk=fine.pk).status == "cancelled"


def test_a_retry_the_broker_refuses_is_reported_per_job_and_the_others_go_on(operator, monkeypatch):
    """A real broker outage cannot be staged here reliably, so the failing call
    (the engine's dispatch, for one job) is replaced; the others get new ids."""
    stuck, fine = make_job("failed", task_id="stuck"), make_job("failed", task_id="fine")
    JobStatus.objects.update(arguments={"args": [], "kwargs": {}})
    monkeypatch.setattr(
        get_engine(),
        "redispatch",
        lambda job: refused() if job.task_id == "stuck" else f"{job.task_id}-again",
    )

    done = operator.post(LIST, select("retry_jobs", stuck, fine, confirmed=True), follow=True)
    report = [str(message) for message in done.context["messages"]]

    assert "1 job dispatched again." in report
    assert "Job fine dispatched again as fine-again." in report
    [failure] = [line for line in report if "stuck" in line]
    assert "was not dispatched again (OperationalError: [Errno 111] Connection refused)" in failure
