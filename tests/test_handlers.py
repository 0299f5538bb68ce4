"""Case L4 through the Celery signal handlers themselves (no worker needed): the
events of one task id in odd orders still end in one right row.
(``test_recording`` drives the recorder under them with every rule.)"""

import pytest
from celery.app.task import Context
from django.utils import timezone

from job_status.contrib.celery import handlers
from job_status.contrib.celery import headers as tracking
from job_status.models import JobStatus
from tests.testapp import tasks

pytestmark = pytest.mark.django_db(transaction=True)


def message_headers(task_id):
    headers = {"id": task_id, "task": tasks.add.name, "retries": 0}
    headers.update(
        tracking.TrackingHeaders(
            tracked=True, alias="adder", tags={"first": 1}, queued_at=timezone.now()
        ).encode()
    )
    return headers


def request(task_id):
    return {
        "id": task_id,
        "retries": 0,
        "args": (1, 2),
        "kwargs": {},
        "headers": message_headers(task_id),
        "delivery_info": {"routing_key": "celery"},
        "hostname": "worker@host",
        "is_eager": False,
        "called_directly": False,
    }


class Events:
    """The handlers as Celery calls them for one task id, in the process each runs in."""

    def __init__(self, task_id):
        self.task_id = task_id
        self.body_skipped = None

    def publish(self):
        handlers.on_after_publish(
            sender=tasks.add.name,
            body=((1, 2), {}, {}),
            headers=message_headers(self.task_id),
            routing_key="celery",
        )

    def _in_the_task(self, handler, **kwargs):
        tasks.add.push_request(**request(self.task_id))
        try:
            handler(sender=tasks.add, **kwargs)
        finally:
            tasks.add.pop_request()

    def prerun(self):
        tasks.add.push_request(**request(self.task_id))
        try:
            handlers.on_prerun(sender=tasks.add, task_id=self.task_id, task=tasks.add)
            self.body_skipped = getattr(tasks.add.request, handlers.SKIP_BODY, False)
            handlers.on_postrun(sender=tasks.add, task_id=self.task_id, task=tasks.add)
        finally:
            tasks.add.pop_request()

    def success(self):
        self._in_the_task(handlers.on_success, result=3)

    def failure(self):
        self._in_the_task(
            handlers.on_failure, task_id=self.task_id, exception=ValueError("x"), einfo=None
        )

    def revoked(self):
        handlers.on_revoked(
            sender=tasks.add, request=Context(request(self.task_id)), terminated=False
        )


@pytest.mark.parametrize(
    ("order", "final"),
    [
        (("publish", "revoked", "prerun"), "cancelled"),
        (("publish", "success", "prerun"), "succeeded"),
        (("publish", "failure", "prerun"), "failed"),
        (("prerun", "publish"), "started"),
        (("revoked", "publish", "prerun"), "cancelled"),
        (("success", "publish"), "succeeded"),
        (("failure", "prerun", "publish"), "failed"),
    ],
    ids=lambda value: "-".join(value) if isinstance(value, tuple) else value,
)
def test_handlers_in_any_order_leave_one_right_row(order, final):
    events = Events("task-1")
    for name in order:
        getattr(events, name)()

    job = JobStatus.objects.get(task_id="task-1")
    assert JobStatus.objects.count() == 1
    assert (job.status, job.alias, job.attempts) == (final, "adder", 1)
    assert {tag.key: tag.value for tag in job.tags.all()} == {"first": 1}
    assert job.queued_at <= (job.started_at or job.queued_at)
    if job.started_at and job.finished_at:
        assert job.started_at <= job.finished_at
    if final == "cancelled" and "prerun" in order:
        assert events.body_skipped is True  # a revoked job never runs its body
