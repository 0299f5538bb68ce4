"""One test per system check id."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from job_status.checks import check_settings
from job_status.conf import app_settings


def ids(errors):
    return [error.id for error in errors]


def test_default_settings_pass():
    assert check_settings() == []


@override_settings(JOB_STATUS_TRACK_ALL_TASKS="yes")
def test_e001_track_all_must_be_a_bool():
    assert ids(check_settings()) == ["job_status.E001"]


@pytest.mark.parametrize("exclude", ["celery.", ["celery.", 3]])
def test_e002_exclusions_must_be_a_list_of_prefixes(exclude):
    with override_settings(JOB_STATUS_TRACK_ALL_EXCLUDE=exclude):
        assert ids(check_settings()) == ["job_status.E002"]


@override_settings(JOB_STATUS_TRACK_ALL_EXCLUDE="celery.")
def test_a_lone_exclusion_string_still_means_one_prefix():
    assert app_settings.TRACK_ALL_EXCLUDE == ("celery.",)


# Django 6.1's check command also runs the database checks, on every alias.
@pytest.mark.django_db(databases=["default", "status"])
@override_settings(JOB_STATUS_TRACK_ALL_TASKS=1)
def test_checks_run_with_manage_py_check():
    with pytest.raises(SystemCheckError, match=r"job_status\.E001"):
        call_command("check")
