"""Chains and groups: every dispatched member tracked, with its parent, root and group."""

import pytest
from celery import chain, group

from job_status.contrib.celery import tag_canvas
from job_status.models import JobStatus
from tests.conftest import wait_until
from tests.testapp import tasks

pytestmark = pytest.mark.worker


def finished(queryset, expected):
    return wait_until(lambda: queryset.where_finished().count() == expected, timeout=30)


def test_chain_whose_second_step_fails(worker):
    """The first two steps are dispatched and recorded; the third is never published."""
    canvas = tag_canvas(
        chain(tasks.fail_if.si(""), tasks.fail_if.si("second"), tasks.fail_if.si("")),
        alias="pipeline",
        tags={"run": 1},
    )
    result = canvas.apply_async()

    steps = JobStatus.objects.for_job_alias("pipeline")
    finished(steps, 2)

    first, second = sorted(steps, key=lambda job: job.queued_at)
    assert (first.status, second.status) == ("succeeded", "failed")
    assert second.exception_message == "failed on second"
    assert second.parent_id == first.task_id
    assert {first.root_id, second.root_id} == {first.task_id}
    assert JobStatus.objects.where_tag("run", 1).count() == 2
    assert not JobStatus.objects.filter(task_id=result.id).exists()  # the third step


def test_group_of_five_of_which_two_fail(worker):
    canvas = tag_canvas(
        group(tasks.fail_if.s(value) for value in ["", "two", "", "four", ""]),
        alias="batch",
        tags=["nightly"],
    )
    result = canvas.apply_async()

    batch = JobStatus.objects.for_batch(result.id)
    finished(batch, 5)

    assert batch.count() == 5
    assert sorted(batch.values_list("status", flat=True)) == ["failed"] * 2 + ["succeeded"] * 3
    counts = batch.counts()
    assert (counts.finished, counts.successful, counts.running, counts.not_finished) == (5, 3, 0, 0)
    assert batch.where_failed().count() == 2
    assert set(batch.values_list("alias", flat=True)) == {"batch"}
    assert batch.where_tag("nightly").count() == 5


def test_member_options_win_over_the_canvas():
    canvas = tag_canvas(
        group(tasks.add.s(1, 1).set(job_alias="own"), tasks.add.s(2, 2)), alias="canvas"
    )

    assert [member.options.get("job_alias") for member in canvas.tasks] == ["own", "canvas"]
