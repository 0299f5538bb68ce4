"""The JSON API and its access rules: each rule has a test that fails if it is broken."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from job_status.models import JobMessage, JobStatus
from tests.factories import make_job

pytestmark = pytest.mark.django_db

LIST = "/jobs/api/jobs/"


def detail(task_id):
    return f"/jobs/api/jobs/{task_id}/"


def user(name, *perms, staff=False):
    person = User.objects.create_user(name, password="x", is_staff=staff)
    for codename in perms:
        person.user_permissions.add(Permission.objects.get(codename=codename))
    return person


def client_for(person=None, **kwargs):
    client = Client(**kwargs)
    if person is not None:
        client.force_login(person)
    return client


def listed(client, query=""):
    response = client.get(LIST + query)
    assert response.status_code == 200, response.content
    return {job["task_id"] for job in response.json()["results"]}


@pytest.fixture
def ann_and_bob():
    ann, bob = user("ann"), user("bob")
    jobs = {
        "ann-private": make_job(task_id="ann-private", dispatched_by=ann),
        "ann-public": make_job(task_id="ann-public", dispatched_by=ann, public=True),
        "bob-private": make_job(task_id="bob-private", dispatched_by=bob),
        "nobody": make_job(task_id="nobody"),
    }
    return ann, bob, jobs


# Seeing jobs


def test_a_user_sees_their_own_jobs_and_public_ones(ann_and_bob):
    ann, bob, _ = ann_and_bob
    assert listed(client_for(ann)) == {"ann-private", "ann-public"}
    assert listed(client_for(bob)) == {"bob-private", "ann-public"}


def test_the_view_permission_sees_every_job(ann_and_bob):
    auditor = user("auditor", "view_jobstatus")
    assert listed(client_for(auditor)) == {"ann-private", "ann-public", "bob-private", "nobody"}


def test_staff_status_alone_sees_no_more_than_a_user(ann_and_bob):
    staff = user("staff", staff=True)
    assert listed(client_for(staff)) == {"ann-public"}


def test_anonymous_requests_are_refused(ann_and_bob):
    anonymous = client_for()
    assert anonymous.get(LIST).status_code == 403
    assert anonymous.get(detail("ann-public")).status_code == 403


@override_settings(JOB_STATUS_ANONYMOUS_SEES_PUBLIC=True)
def test_a_setting_opens_public_jobs_to_anonymous_requests(ann_and_bob):
    anonymous = client_for()
    assert listed(anonymous) == {"ann-public"}
    assert anonymous.get(detail("ann-public")).status_code == 200
    assert anonymous.get(detail("ann-private")).status_code == 404


def test_a_job_someone_may_not_see_is_404_like_one_that_does_not_exist(ann_and_bob):
    bob = client_for(ann_and_bob[1])
    hidden = bob.get(detail("ann-private"))
    missing = bob.get(detail("no-such-job"))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()


@pytest.mark.parametrize("task_id", ["x" * 300, "%00", "{not-a-uuid}", "..", "a b"])
def test_malformed_ids_are_404(ann_and_bob, task_id):
    auditor = client_for(user("auditor", "view_jobstatus"))
    assert auditor.get(detail(task_id)).status_code == 404


def test_a_uuid_is_found_in_any_spelling():
    ann = user("ann")
    job = make_job(task_id="0f8e4b52-1d1a-4a3e-9a57-3c1e2f1f0a11", dispatched_by=ann)
    response = client_for(ann).get(detail("0F8E4B521D1A4A3E9A573C1E2F1F0A11"))
    assert response.json()["task_id"] == job.task_id


def test_detail_has_messages_timeline_and_the_latest_message():
    ann = user("ann")
    job = make_job("failed", dispatched_by=ann)
    JobMessage.objects.create(
        job_status=job, level="info", text="half way", created_at=job.queued_at
    )
    JobMessage.objects.create(
        job_status=job, level="debug", text="noise", created_at=job.queued_at + timedelta(seconds=1)
    )

    body = client_for(ann).get(detail(job.task_id)).json()

    assert [entry["event"] for entry in body["timeline"]] == ["queued", "started", "failed"]
    assert body["timeline"][-1]["exception_type"] == "builtins.ValueError"
    assert [message["text"] for message in body["messages"]] == ["half way", "noise"]
    assert body["latest_message"]["text"] == "half way"
    assert body["status"] == "failed"
    assert body["can_control"] is True


# Filters and pages


def test_filters_by_job_alias_status_tag_and_batch():
    auditor = client_for(user("auditor", "view_jobstatus"))
    make_job(task_id="e5", job="app.export", alias="export", tags={"election": 5})
    make_job("succeeded", task_id="e6", job="app.export", alias="export", tags={"election": 6})
    make_job("failed", task_id="i1", job="app.import", tags={"nightly": None})

    assert listed(auditor, "?job=app.export") == {"e5", "e6"}
    assert listed(auditor, "?alias=export&status=succeeded") == {"e6"}
    assert listed(auditor, "?status=queued,failed") == {"e5", "i1"}
    assert listed(auditor, "?tag=election=5") == {"e5"}
    assert listed(auditor, "?tag=election>=5") == {"e5", "e6"}
    assert listed(auditor, '?tag=election="5"') == set()  # a string, not the number
    assert listed(auditor, "?tag=nightly") == {"i1"}
    assert listed(auditor, "?batch=none-such") == set()


def test_pages_say_whether_there_is_a_next_one():
    auditor = client_for(user("auditor", "view_jobstatus"))
    for n in range(5):
        make_job(task_id=f"p{n}")

    first = auditor.get(LIST + "?per_page=2").json()
    last = auditor.get(LIST + "?per_page=2&page=3").json()

    assert [job["task_id"] for job in first["results"]] == ["p4", "p3"]  # newest first
    assert first["has_next"] is True
    assert [job["task_id"] for job in last["results"]] == ["p0"]
    assert last["has_next"] is False


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("?status=done", "status"),
        ("?tag==5", "tag"),
        ("?tag=a<", "tag"),
        ("?per_page=1000", "per_page"),
        ("?page=zero", "page"),
        ("?colour=red", "colour"),
        ("?alias=%00", "alias"),
        ("?tag=a=%00", "tag"),
    ],
)
def test_bad_filters_are_400_with_a_message_naming_them(query, named):
    response = client_for(user("ann")).get(LIST + query)
    assert response.status_code == 400
    assert named in response.json()["error"]


def test_the_list_costs_the_same_queries_for_5_jobs_as_for_50():
    auditor = client_for(user("auditor", "view_jobstatus"))

    def queries_for_a_page():
        with CaptureQueriesContext(connection) as queries:
            assert auditor.get(LIST + "?per_page=100").status_code == 200
        return len(queries)

    for n in range(5):
        make_job(task_id=f"few{n}", tags={"n": n, "label": None})
    few = queries_for_a_page()
    for n in range(45):
        job = make_job("started", task_id=f"many{n}", tags={"n": n})
        JobMessage.objects.create(job_status=job, text="working", created_at=job.queued_at)

    assert queries_for_a_page() == few


# Cancelling and retrying


def test_the_dispatcher_may_cancel_their_job(ann_and_bob):
    ann = client_for(ann_and_bob[0])
    response = ann.post(detail("ann-private") + "cancel/")
    assert response.status_code == 200
    assert response.json()["cancelled"] is True
    assert JobStatus.objects.get(task_id="ann-private").status == "cancelled"


def test_others_may_not_cancel_a_public_job_they_can_see(ann_and_bob):
    bob = client_for(ann_and_bob[1])
    assert bob.post(detail("ann-public") + "cancel/").status_code == 403
    assert JobStatus.objects.get(task_id="ann-public").status == "queued"


def test_others_get_404_for_a_private_job_they_would_cancel(ann_and_bob):
    bob = client_for(ann_and_bob[1])
    assert bob.post(detail("ann-private") + "cancel/").status_code == 404
    assert bob.post(detail("ann-private") + "retry/").status_code == 404


def test_the_change_permission_may_cancel_any_job(ann_and_bob):
    operator = client_for(user("operator", "view_jobstatus", "change_jobstatus"))
    assert operator.post(detail("bob-private") + "cancel/").status_code == 200
    assert JobStatus.objects.get(task_id="bob-private").status == "cancelled"


def test_change_alone_may_cancel_any_job(ann_and_bob):
    operator = client_for(user("operator", "change_jobstatus"))
    assert operator.post(detail("bob-private") + "cancel/").status_code == 200
    assert JobStatus.objects.get(task_id="bob-private").status == "cancelled"


def test_cancel_and_retry_are_post_only_and_csrf_protected(ann_and_bob):
    ann = client_for(ann_and_bob[0], enforce_csrf_checks=True)
    assert ann.get(detail("ann-private") + "cancel/").status_code == 405
    assert ann.post(detail("ann-private") + "cancel/").status_code == 403
    assert JobStatus.objects.get(task_id="ann-private").status == "queued"


def test_cancelling_a_finished_job_is_a_conflict():
    ann = user("ann")
    job = make_job("succeeded", dispatched_by=ann)
    response = client_for(ann).post(detail(job.task_id) + "cancel/")
    assert response.status_code == 409
    assert "finished" in response.json()["error"]


def test_retrying_a_job_that_cannot_be_retried_says_why():
    ann = user("ann")
    job = make_job("succeeded", dispatched_by=ann)
    response = client_for(ann).post(detail(job.task_id) + "retry/")
    assert response.status_code == 409
    assert "only failed or cancelled" in response.json()["error"]


@pytest.mark.parametrize("page", ["99999999999999999999999", " 5", "\uff11", "100001"])
def test_a_page_beyond_reach_is_400_not_an_error(page):
    auditor = client_for(user("auditor", "view_jobstatus"))
    response = auditor.get(LIST, {"page": page})
    assert response.status_code == 400
    assert "page" in response.json()["error"]


def test_the_change_permission_also_sees_every_job_as_in_the_admin(ann_and_bob):
    operator = client_for(user("operator", "change_jobstatus"))
    assert listed(operator) == {"ann-private", "ann-public", "bob-private", "nobody"}


def test_tracebacks_and_workers_only_for_operators():
    ann = user("ann")
    job = make_job("failed", dispatched_by=ann)
    JobStatus.objects.filter(pk=job.pk).update(worker="worker@host-7")
    job.timeline.filter(event="failed").update(traceback="Traceback: secret/path.py")

    own = client_for(ann).get(detail(job.task_id)).json()
    operator = client_for(user("auditor", "view_jobstatus")).get(detail(job.task_id)).json()

    assert own["worker"] == ""
    assert [entry["traceback"] for entry in own["timeline"]] == ["", "", ""]
    assert own["timeline"][-1]["exception_message"] == "boom"  # the error itself, yes
    assert operator["worker"] == "worker@host-7"
    assert operator["timeline"][-1]["traceback"] == "Traceback: secret/path.py"
