"""Jobs that the tests dispatch to a real worker."""

import time

from celery import shared_task

from job_status.contrib.celery import TrackedTask, tracked_task


@tracked_task(alias="adder", tags=lambda a, b: {"first": a, "nightly": None})
def add(a, b):
    return a + b


@tracked_task
def fail(message="boom"):
    raise ValueError(message)


@tracked_task(bind=True, alias="flaky", max_retries=2)
def flaky(self, failures=1):
    """Fails ``failures`` times with ConnectionError, then returns 42."""
    if self.request.retries < failures:
        raise self.retry(exc=ConnectionError(f"attempt {self.request.retries + 1}"), countdown=0)
    return 42


@tracked_task(bind=True, max_retries=2)
def always_retry(self):
    try:
        raise ValueError("boom")
    except ValueError as exc:
        raise self.retry(exc=exc, countdown=0) from exc


@tracked_task
def sleep(seconds):
    time.sleep(seconds)
    return seconds


class ExportTask(TrackedTask):
    job_alias = "export"

    def get_job_tags(self, args, kwargs):
        return {"election": args[0] if args else kwargs["election_id"]}


@shared_task(base=ExportTask)
def export(election_id):
    return f"exported {election_id}"


@shared_task
def untracked_add(a, b):
    return a + b
