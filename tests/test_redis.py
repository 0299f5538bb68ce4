"""What the embedded broker cannot show, on Redis: redelivery and chords."""

import pytest
from celery import chord

from job_status.contrib.celery import tag_canvas
from job_status.models import JobStatus
from tests.conftest import wait_until
from tests.helpers import assert_times_in_order, wait_for_finish
from tests.testapp import tasks

pytestmark = [pytest.mark.redis, pytest.mark.worker]


def test_redelivered_job_keeps_one_row_and_ends_with_what_really_happened(redis_worker, tmp_path):
    result = tasks.die_once.delay(str(tmp_path / "died"))

    job = wait_for_finish(result.id, timeout=60)

    assert (tmp_path / "died").exists()  # the first delivery really died
    assert JobStatus.objects.filter(task_id=result.id).count() == 1
    assert (job.status, job.attempts) == ("succeeded", 1)
    assert_times_in_order(job)


def test_chord_members_and_body_are_tracked(redis_worker):
    canvas = tag_canvas(
        chord(
            [tasks.fail_if.s(""), tasks.fail_if.s(0), tasks.fail_if.s(None)],
            tasks.count_results.s(),
        ),
        alias="chord",
    )
    result = canvas.apply_async()

    body = wait_for_finish(result.id)
    batch = JobStatus.objects.for_batch(result.parent.id)

    assert body.status == "succeeded"
    assert body.job == "tests.testapp.tasks.count_results"
    # The batch is the chord: its three members and its body share the group id.
    assert batch.count() == 4
    assert set(batch.values_list("alias", flat=True)) == {"chord"}
    counts = batch.counts()
    assert (counts.finished, counts.successful, counts.running, counts.not_finished) == (4, 4, 0, 0)


def test_chord_with_a_failing_member_never_runs_its_body(redis_worker):
    canvas = chord(
        [tasks.fail_if.s(""), tasks.fail_if.s("boom"), tasks.fail_if.s("")], tasks.count_results.s()
    )
    result = canvas.apply_async()

    members = JobStatus.objects.for_batch(result.parent.id).for_job(tasks.fail_if)
    wait_until(lambda: members.where_finished().count() == 3)

    counts = members.counts()
    assert (counts.finished, counts.successful) == (3, 2)
    assert not JobStatus.objects.filter(task_id=result.id, status="succeeded").exists()
