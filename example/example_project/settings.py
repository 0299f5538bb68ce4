"""Settings of the job_status example project.

By default nothing needs a server: the database is a SQLite file and the Celery
broker is kombu's filesystem transport, both under ``example/var/``.
Environment variables switch to real servers:

``EXAMPLE_DATABASE=postgres``
    Use PostgreSQL, reached through the usual libpq variables ``PGHOST``
    (default ``127.0.0.1``), ``PGPORT`` (``5432``), ``PGUSER`` (``postgres``),
    ``PGPASSWORD`` (empty) and ``PGDATABASE`` (``job_status_example``, a
    database of its own). ``run_demo`` creates that database if it does not
    exist, connecting to the server's ``postgres`` database to do so. Needs
    ``psycopg``.
``CELERY_BROKER_URL``
    Use this broker instead of the filesystem, e.g.
    ``redis://127.0.0.1:6379/0`` (needs ``celery[redis]``).

The worker that ``run_demo`` starts inherits the environment, so it always
uses the same database and broker as the command itself.
"""

import os
from pathlib import Path
from typing import Any

# example/, the directory holding manage.py. Every path below is absolute and
# built from it, so the command and its worker agree whatever their cwd is.
BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"  # run-time state; gitignored
# SQLite cannot create the directory of its file; every manage.py command
# (not only run_demo) needs it on a fresh checkout.
VAR_DIR.mkdir(exist_ok=True)
BROKER_DIR = VAR_DIR / "broker"

SECRET_KEY = "django-insecure-job-status-example"  # a local demo, never deployed
DEBUG = True
ALLOWED_HOSTS: list[str] = []

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "job_status",
    "job_status.contrib.celery",  # connects the Celery signal handlers
    "jobs",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Jobs dispatched while a request is served belong to its user.
    "job_status.dispatcher.DispatcherMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
STATIC_URL = "/static/"
ROOT_URLCONF = "example_project.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

DATABASES: dict[str, dict[str, Any]]
if os.environ.get("EXAMPLE_DATABASE") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "PASSWORD": os.environ.get("PGPASSWORD", ""),
            "NAME": os.environ.get("PGDATABASE", "job_status_example"),
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "OPTIONS": {
                # Two worker processes and the command write at once: wait for
                # the lock instead of failing, let readers run beside a writer
                # (WAL), and take the write lock when a transaction begins:
                # upgrading a read lock later fails at once with "database is
                # locked", without waiting for the timeout.
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL;",
                "transaction_mode": "IMMEDIATE",
            },
        }
    }

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport, writing each message atomically: the plain
    # one can hand a worker a half-written message (kombu issue 1551).
    CELERY_BROKER_TRANSPORT = "job_status.contrib.celery.filesystem:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # One folder both ways: the publisher writes where the worker reads.
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        # Shared by every process, so broadcasts (revoke, ping) reach the worker.
        "control_folder": str(BROKER_DIR / "control"),
        "polling_interval": 0.1,
    }
# A queue of our own: on a shared Redis the demo's worker must not take other
# projects' messages from the default "celery" queue, nor they ours.
CELERY_TASK_DEFAULT_QUEUE = "job_status_example"
# job_status keeps the record; a result backend would only duplicate it.
CELERY_TASK_IGNORE_RESULT = True
