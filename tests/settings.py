"""Settings for the test suite and the worker processes it starts.

A worker is handed the test run's id, database and broker by environment
variables (a worker cannot see an in-memory database or an open
transaction), so it sees exactly what the test process sees, and two
runs on one machine never share a queue.
"""

import os
import tempfile
from pathlib import Path

STATE_DIR = (
    Path(os.environ.get("JOB_STATUS_TEST_STATE", tempfile.gettempdir())) / "job_status_tests"
)
STATE_DIR.mkdir(parents=True, exist_ok=True)
RUN_ID = os.environ.get("JOB_STATUS_TEST_RUN_ID", str(os.getpid()))

SECRET_KEY = "job-status-tests"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "job_status",
    "job_status.contrib.celery",
    "tests.testapp",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "job_status.dispatcher.DispatcherMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.urls"
STATIC_URL = "/static/"
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
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        # The worker process is handed the test database's file by name.
        "NAME": os.environ.get("JOB_STATUS_WORKER_DB", str(STATE_DIR / "db.sqlite3")),
        "TEST": {"NAME": str(STATE_DIR / f"test_{RUN_ID}.sqlite3")},
        "OPTIONS": {
            "timeout": 20,
            # WAL lets the worker write while the test process reads or holds
            # an open (read-only) transaction, as on PostgreSQL.
            "init_command": "PRAGMA journal_mode=WAL;",
        },
    }
}

# JOB_STATUS_TEST_POSTGRES=postgresql://postgres@127.0.0.1:5432/postgres runs the
# suite on PostgreSQL: pytest-django creates this run's own test database there.
POSTGRES_URL = os.environ.get("JOB_STATUS_TEST_POSTGRES", "")
if POSTGRES_URL:
    from urllib.parse import urlsplit

    _url = urlsplit(POSTGRES_URL)
    DATABASES["default"] = {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": _url.hostname or "127.0.0.1",
        "PORT": str(_url.port or 5432),
        "USER": _url.username or "postgres",
        "PASSWORD": _url.password or "",
        "NAME": os.environ.get("JOB_STATUS_WORKER_DB", (_url.path or "/postgres").lstrip("/")),
        "TEST": {"NAME": f"test_job_status_{RUN_ID}"},
    }

# A second connection to the same database, for JOB_STATUS_DATABASE tests.
DATABASES["status"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}

# A worker started with this set tracks every task (tests of track-all).
JOB_STATUS_TRACK_ALL_TASKS = os.environ.get("JOB_STATUS_TEST_TRACK_ALL") == "1"

# JOB_STATUS_TEST_REDIS=redis://127.0.0.1:6379/0 runs the suite on Redis (broker
# and result backend, for chords); otherwise on the embedded filesystem broker.
REDIS_URL = os.environ.get("JOB_STATUS_TEST_REDIS", "")
if REDIS_URL:
    REDIS_KEY_PREFIX = f"job_status_tests_{RUN_ID}:"
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": REDIS_KEY_PREFIX}
    CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"global_keyprefix": REDIS_KEY_PREFIX}
    CELERY_TASK_IGNORE_RESULT = False  # chords need their members' results
else:
    BROKER_DIR = STATE_DIR / f"broker_{RUN_ID}"
    CELERY_BROKER_URL = "filesystem://"
    # kombu's filesystem transport, writing each message atomically (see the module).
    CELERY_BROKER_TRANSPORT = "job_status.contrib.celery.filesystem:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "polling_interval": 0.05,
    }
    CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
