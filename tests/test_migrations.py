"""Migrations are checked in and complete, whatever DEFAULT_AUTO_FIELD a project uses."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings


@pytest.mark.django_db
@pytest.mark.parametrize(
    "auto_field", ["django.db.models.AutoField", "django.db.models.BigAutoField"]
)
def test_no_missing_migrations(auto_field):
    with override_settings(DEFAULT_AUTO_FIELD=auto_field):
        call_command("makemigrations", "job_status", "--check", "--dry-run", stdout=StringIO())
