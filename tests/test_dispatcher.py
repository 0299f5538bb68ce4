"""Who dispatched a job: captured from the request, carried to the worker, kept on retry."""

import asyncio

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpResponse
from django.test import Client, RequestFactory

from job_status.dispatcher import DispatcherMiddleware, current_dispatcher_id, dispatched_by
from job_status.models import JobStatus
from tests.helpers import wait_for_finish
from tests.testapp import tasks

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ann():
    return User.objects.create_user("ann", password="x")


def signed_in(person):
    client = Client()
    client.force_login(person)
    return client


@pytest.mark.worker
def test_a_job_dispatched_by_a_request_belongs_to_its_user(worker, ann):
    task_id = signed_in(ann).get("/dispatch/").json()["task_id"]

    assert JobStatus.objects.get(task_id=task_id).dispatched_by == ann  # the queued row
    job = wait_for_finish(task_id)
    assert job.status == "succeeded"
    assert job.dispatched_by == ann


@pytest.mark.worker
def test_the_worker_knows_the_dispatcher_when_it_creates_the_row(worker, ann):
    """The dispatch rolled back: no queued row; the worker's row still names the user."""
    task_id = signed_in(ann).get("/dispatch-rolled-back/").json()["task_id"]

    job = wait_for_finish(task_id)
    assert job.dispatched_by == ann
    assert job.timeline.all()[0].event == "started"


@pytest.mark.worker
def test_a_job_dispatched_by_a_job_belongs_to_the_same_user(worker, ann):
    with dispatched_by(ann):
        parent = tasks.dispatch_child.delay()
    parent_job = wait_for_finish(parent.id)
    child = wait_for_finish(JobStatus.objects.exclude(task_id=parent.id).get().task_id)

    assert parent_job.dispatched_by == ann
    assert child.dispatched_by == ann


def test_an_anonymous_request_dispatches_for_nobody():
    task_id = Client().get("/dispatch/?queue=nowhere").json()["task_id"]
    assert JobStatus.objects.get(task_id=task_id).dispatched_by is None


def test_dispatched_by_names_the_user_outside_a_request(ann):
    with dispatched_by(ann):
        inside = tasks.add.apply_async((1, 1), queue="nowhere")
    outside = tasks.add.apply_async((1, 1), queue="nowhere")

    assert JobStatus.objects.get(task_id=inside.id).dispatched_by == ann
    assert JobStatus.objects.get(task_id=outside.id).dispatched_by is None


def test_public_jobs_per_task_and_per_dispatch():
    declared = tasks.public_add.apply_async((1, 1), queue="nowhere")
    per_dispatch = tasks.add.apply_async((1, 1), queue="nowhere", job_public=True)
    overridden = tasks.public_add.apply_async((1, 1), queue="nowhere", job_public=False)

    public = dict(JobStatus.objects.values_list("task_id", "is_public"))
    assert public[declared.id] is True
    assert public[per_dispatch.id] is True
    assert public[overridden.id] is False


def test_job_public_must_be_a_boolean():
    with pytest.raises(TypeError, match="job_public must be True or False"):
        tasks.add.apply_async((1, 1), queue="nowhere", job_public="yes")
    assert not JobStatus.objects.exists()


def test_a_retry_keeps_the_dispatcher_and_visibility(ann):
    with dispatched_by(ann):
        first = tasks.fail_if.apply_async(("x",), queue="nowhere", job_public=True)
    job = JobStatus.objects.get(task_id=first.id)
    job.cancel()

    other = User.objects.create_user("operator")
    with dispatched_by(other):  # whoever retries it, it stays ann's
        retried = JobStatus.objects.get(task_id=first.id).retry()

    assert retried.dispatched_by == ann
    assert retried.is_public is True


def test_the_middleware_reads_the_user_only_when_a_job_is_dispatched(ann):
    request = RequestFactory().get("/")
    request.user = ann
    seen = []

    def view(request):
        seen.append(current_dispatcher_id())
        return HttpResponse()

    DispatcherMiddleware(view)(request)
    assert seen == [str(ann.pk)]
    assert current_dispatcher_id() == ""  # gone with the request

    request.user = AnonymousUser()
    DispatcherMiddleware(view)(request)
    assert seen[-1] == ""


def test_the_middleware_works_for_async_views(ann):
    request = RequestFactory().get("/")
    request.user = ann
    seen = []

    async def view(request):
        seen.append(current_dispatcher_id())
        return HttpResponse()

    middleware = DispatcherMiddleware(view)
    response = asyncio.run(middleware(request))
    assert response.status_code == 200
    assert seen == [str(ann.pk)]
