"""The JSON API and its access rules: each rule has a test that fails if it is broken."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from kombu.exceptions import OperationalError

from job_status.engines import get_engine
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


def test_a_job_stored_under_an_upper_case_uuid_is_found_by_that_id():
    # JOB_STATUS_TRACK_ALL_TASKS stores a custom id as it was given.
    ann = user("ann")
    job = make_job(task_id="0F8E4B52-1D1A-4A3E-9A57-3C1E2F1F0A11", dispatched_by=ann)
    ann_client = client_for(ann)

    assert ann_client.get(detail(job.task_id)).json()["task_id"] == job.task_id
    assert ann_client.post(detail(job.task_id) + "cancel/").json()["cancelled"] is True
    assert client_for(user("bob")).get(detail(job.task_id)).status_code == 404  # still hidden


@pytest.mark.parametrize("task_id", ["a/b", "a/b/cancel", "reports/2024/retry"])
def test_a_task_id_with_slashes_has_its_detail_cancel_and_retry(task_id, monkeypatch):
    ann = user("ann")
    make_job("failed", task_id=task_id, dispatched_by=ann)
    JobStatus.objects.filter(task_id=task_id).update(arguments={"args": [], "kwargs": {}})
    redispatched = []  # which job the engine was asked to send again (no broker needed)

    def redispatch(job):
        redispatched.append(job.task_id)
        return "new-id"

    monkeypatch.setattr(get_engine(), "redispatch", redispatch)
    ann_client = client_for(ann)

    assert ann_client.get(detail(task_id)).json()["task_id"] == task_id
    cancel = ann_client.post(detail(task_id) + "cancel/")
    assert cancel.status_code == 409  # routed to this job's cancel: it has finished
    assert task_id in cancel.json()["error"]
    retried = ann_client.post(detail(task_id) + "retry/")
    assert retried.status_code == 201, retried.content
    assert redispatched == [task_id]


def test_a_get_on_an_action_url_is_405_unless_a_job_has_that_whole_id(ann_and_bob):
    ann = client_for(ann_and_bob[0])
    make_job(task_id="ann-public/retry", dispatched_by=ann_and_bob[0], public=True)
    assert ann.get(detail("ann-private") + "cancel/").status_code == 405
    assert ann.get(detail("ann-public") + "retry/").json()["task_id"] == "ann-public/retry"
    bob = client_for(ann_and_bob[1])
    make_job(task_id="ann-private/retry", dispatched_by=ann_and_bob[0])
    assert bob.get(detail("ann-private") + "retry/").status_code == 405  # not a hint


@pytest.fixture
def family(ann_and_bob):
    """ann's public job, a retry of her private one, whose parent and root are hers
    too; and one whose parent is public."""
    ann, bob, _ = ann_and_bob
    child = make_job("failed", task_id="ann-public-child", dispatched_by=ann, public=True)
    JobStatus.objects.filter(pk=child.pk).update(
        parent_id="ann-private", root_id="ann-private", retry_of_id="ann-private", group_id="g1"
    )
    make_job(task_id="ann-public-grandchild", dispatched_by=ann, public=True)
    JobStatus.objects.filter(task_id="ann-public-grandchild").update(
        parent_id="ann-public", root_id="ann-private"
    )
    return ann, bob


def references(client, task_id):
    body = client.get(detail(task_id)).json()
    return {name: body[name] for name in ("parent_id", "root_id", "retry_of", "group_id")}


def test_ids_of_jobs_the_reader_may_not_see_are_null(family):
    ann, bob = family
    assert references(client_for(bob), "ann-public-child") == {
        "parent_id": None,
        "root_id": None,
        "retry_of": None,
        "group_id": "g1",  # a batch, not a job: its list shows bob only what he may see
    }
    assert references(client_for(bob), "ann-public-grandchild") == {
        "parent_id": "ann-public",
        "root_id": None,
        "retry_of": None,
        "group_id": "",
    }
    mine = {"parent_id": "ann-private", "root_id": "ann-private", "retry_of": "ann-private"}
    assert references(client_for(ann), "ann-public-child") == {**mine, "group_id": "g1"}
    auditor = client_for(user("auditor", "view_jobstatus"))
    assert references(auditor, "ann-public-child") == {**mine, "group_id": "g1"}


def test_the_references_cost_one_query_and_none_for_an_operator(family):
    bob, auditor = family[1], user("auditor", "view_jobstatus")

    def queries(person, **references):
        JobStatus.objects.filter(task_id="ann-public-child").update(**references)
        client = client_for(person)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(detail("ann-public-child")).status_code == 200
        return len(captured)

    none = {"parent_id": "", "root_id": "", "retry_of_id": None}
    one = {**none, "retry_of_id": "ann-private"}
    three = {"parent_id": "ann-public", "root_id": "bob-private", "retry_of_id": "ann-private"}
    assert queries(bob, **one) == queries(bob, **none) + 1
    assert queries(bob, **three) == queries(bob, **none) + 1  # all of them in one
    assert queries(auditor, **three) == queries(auditor, **none)  # sees them all


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


def test_a_tag_key_with_operator_characters_is_quoted_as_json():
    auditor = client_for(user("auditor", "view_jobstatus"))
    make_job(task_id="odd", tags={"a<b": 1, "x=y": "v", '"q"': None})
    make_job(task_id="plain", tags={"a": "b=1"})

    assert listed(auditor, '?tag="a<b"=1') == {"odd"}
    assert listed(auditor, '?tag="a<b">=1') == {"odd"}
    assert listed(auditor, '?tag="x=y"') == {"odd"}
    assert listed(auditor, '?tag="x=y"!="w"') == {"odd"}
    assert listed(auditor, '?tag="\\"q\\""') == {"odd"}
    assert listed(auditor, "?tag=a<b=1") == set()  # unquoted: the key "a", < "b=1"
    assert listed(auditor, '?tag="a"="b=1"') == {"plain"}


@pytest.mark.parametrize("text", ['"a<b', '"a<b"x', '"a<b"=', '"a"~1', '"\\u0000"=1'])
def test_a_malformed_quoted_tag_key_is_400(text):
    response = client_for(user("ann")).get(LIST, {"tag": text})
    assert response.status_code == 400
    assert "tag" in response.json()["error"]


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


# When the broker is down


@pytest.fixture
def broker_down(monkeypatch):
    """The engine's calls to the broker fail as kombu fails when it cannot connect.

    A real broker outage cannot be staged here reliably (the filesystem broker
    never refuses, and stopping a shared Redis would disturb other tests), so the
    failing call itself is replaced."""

    def refused(*args, **kwargs):
        raise OperationalError("[Errno 111] Connection refused")

    engine = get_engine()
    monkeypatch.setattr(engine, "revoke", refused)
    monkeypatch.setattr(engine, "redispatch", refused)


def test_cancel_with_the_broker_down_is_503_and_says_the_job_is_cancelled(broker_down):
    ann = user("ann")
    job = make_job(dispatched_by=ann)

    response = client_for(ann).post(detail(job.task_id) + "cancel/")

    assert response.status_code == 503
    error = response.json()["error"]
    assert "Connection refused" in error
    assert "recorded as cancelled and will not run" in error
    assert response.json()["job"]["status"] == "cancelled"
    assert JobStatus.objects.get(pk=job.pk).status == "cancelled"


def test_cancel_of_a_running_job_with_the_broker_down_says_it_stops_at_its_check(broker_down):
    ann = user("ann")
    job = make_job("started", dispatched_by=ann)

    response = client_for(ann).post(detail(job.task_id) + "cancel/", {"terminate": "1"})

    assert response.status_code == 503
    assert "stops at its next check, but it was not killed" in response.json()["error"]
    assert JobStatus.objects.get(pk=job.pk).cancel_requested_at is not None


def test_retry_with_the_broker_down_is_503_and_dispatches_nothing(broker_down):
    ann = user("ann")
    job = make_job("failed", dispatched_by=ann)
    JobStatus.objects.filter(pk=job.pk).update(arguments={"args": [], "kwargs": {}})

    response = client_for(ann).post(detail(job.task_id) + "retry/")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert "OperationalError: [Errno 111] Connection refused" in error
    assert "not dispatched again" in error
    assert not JobStatus.objects.filter(retry_of=job).exists()
