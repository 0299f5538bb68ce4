"""The Laravel package's camelCase spellings call the same code as the snake_case names."""

import pytest

from job_status import laravel
from job_status.collection import JobStatusCollection
from job_status.models import JobStatus
from tests.factories import make_job

pytestmark = pytest.mark.django_db


def test_every_alias_points_at_an_existing_method():
    for aliases, owner in [
        (laravel.QUERYSET_ALIASES, JobStatus.objects.all()),
        (laravel.COLLECTION_ALIASES, JobStatusCollection()),
        (laravel.MODEL_ALIASES, JobStatus()),
    ]:
        for alias, target in aliases.items():
            assert callable(getattr(owner, target)), target
            assert callable(getattr(owner, alias)), alias


def test_chains_in_the_seed_spelling():
    wanted = make_job("succeeded", job="app.Export", alias="export", tags={"election": 5})
    make_job("failed", job="app.Export", alias="export", tags={"election": 5})

    found = (
        JobStatus.objects.forJob("app.Export")
        .forJobAlias("export")
        .whereTag("election", "=", 5)
        .whereSuccess()
        .firstOrFail()
    )

    assert found == wanted
    assert found.getStatus() == "succeeded"
    assert (found.wasSuccessful(), found.hasFinished(), found.isRunning()) == (True, True, False)
    assert JobStatus.objects.whereNotStatus("succeeded").countFinished() == 1
    assert JobStatus.objects.whereStatus(["failed", "succeeded"]).collect().countSuccessful() == 1


def test_alias_errors_are_the_same_errors():
    with pytest.raises(ValueError, match="Unknown job status 'done'"):
        JobStatus.objects.whereStatus("done")
    with pytest.raises(JobStatus.DoesNotExist):
        JobStatus.objects.forJobAlias("missing").firstOrFail()
