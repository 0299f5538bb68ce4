"""Jobs that the tests dispatch to a real worker."""

import os
import signal
import time

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from job_status.contrib.celery import TrackedTask, tracked_task
from job_status.running import current_job


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


# -- the life of a job (issue 3) ---------------------------------------------------


@tracked_task(bind=True, time_limit=1)
def hard_limited(self):
    time.sleep(5)


@tracked_task(bind=True, soft_time_limit=1)
def soft_limited(self):
    self.job.info("halfway")
    time.sleep(5)


@tracked_task(bind=True, soft_time_limit=1)
def soft_limited_caught(self):
    try:
        time.sleep(5)
    except SoftTimeLimitExceeded:
        return "partial"


@tracked_task(bind=True)
def checking_loop(self, turns=20, pause=0.5):
    """Loops, checking for cancellation each turn; cleans up when stopped."""
    self.job.on_cancel(lambda: self.job.warning("cleaned up"))
    for turn in range(turns):
        self.job.check()
        self.job.set_progress(current=turn, total=turns)
        time.sleep(pause)
    return "done"


@tracked_task(bind=True, alias="reporter", tags=lambda steps=5, pause=0.4: {"steps": steps})
def reporting(self, steps=5, pause=0.4):
    """Reports progress and messages while it runs; handles the signal "bump"."""
    self.job.on_signal("bump", lambda parameters: self.job.info(f"bumped by {parameters['by']}"))
    for step in range(1, steps + 1):
        time.sleep(pause)
        self.job.set_progress(100 * step / (steps + 1))
        self.job.debug(f"step {step} detail")
        self.job.info(f"step {step} of {steps}")
        self.job.check()
    return steps


@tracked_task(bind=True, max_retries=2)
def retried_with_countdown(self, failures=2, countdown=1):
    if self.request.retries < failures:
        raise self.retry(
            exc=ConnectionError(f"attempt {self.request.retries + 1}"), countdown=countdown
        )
    return 42


UNICODE = "Échec: ünïcödé 🐟 失败"


@tracked_task(bind=True, max_retries=3)
def unicode_flaky(self):
    if self.request.retries < 2:
        raise self.retry(exc=ValueError(UNICODE), countdown=0)
    current_job().info(UNICODE)
    return UNICODE


class TwoArgumentError(Exception):
    def __init__(self, code, detail):
        super().__init__(f"{code}: {detail}")
        self.code, self.detail = code, detail


@tracked_task
def raise_two_argument_error():
    try:
        raise KeyError("inner cause")
    except KeyError as cause:
        raise TwoArgumentError(7, "cannot be rebuilt") from cause


@tracked_task
def fail_if(value):
    if value:
        raise ValueError(f"failed on {value}")
    return value


@tracked_task(acks_late=True, reject_on_worker_lost=True)
def die_once(marker):
    """Kills its own pool process on the first delivery; succeeds when delivered again."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    return "survived"


@tracked_task
def count_results(results):
    return len(results)


@tracked_task(bind=True, tags=lambda p: {"p": p})
def retry_once_with_computed_tags(self, p):
    if self.request.retries < 1:
        raise self.retry(countdown=0)
    return "retried"


class BadStr(Exception):
    def __str__(self):
        raise RuntimeError("__str__ exploded")


@tracked_task
def raise_bad_str():
    raise BadStr("real")


@tracked_task
def ignore_itself():
    from celery.exceptions import Ignore

    raise Ignore()


@tracked_task
def close_connection_then_fail():
    """Case P1: the job closes the worker's database connection, then raises."""
    from django.db import connection

    connection.close()
    raise RuntimeError("after closing the connection")


@tracked_task(bind=True)
def reports_half(self, n):
    self.job.set_progress(50)
    return n * 2


@tracked_task
def runs_others_in_place_in_a_transaction():
    """A job that runs tracked tasks in place, inside its own transaction."""
    from django.db import transaction

    with transaction.atomic():
        return [reports_half.apply((n,)).get() for n in (1, 2)]


@tracked_task
def dispatch_child():
    """A job that dispatches another: the child belongs to the same dispatcher."""
    return add.apply_async((3, 4), queue="celery").id


@tracked_task(public=True)
def public_add(a, b):
    return a + b


# A file name as os.listdir() gives it when its bytes are not UTF-8.
UNDECODABLE_NAME = b"caf\xe9.csv".decode("utf-8", "surrogateescape")


@tracked_task(bind=True)
def fail_on_undecodable_name(self):
    self.job.info(f"reading {UNDECODABLE_NAME}")
    self.job.info("still here")
    raise ValueError(f"cannot read {UNDECODABLE_NAME}")
