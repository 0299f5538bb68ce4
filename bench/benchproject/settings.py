"""Settings of the benchmark project, shared by ``overhead.py`` and the worker it starts.

Everything that varies between runs comes from ``BENCH_*`` environment
variables, which ``overhead.py`` sets for itself and hands to the worker, so
both processes always see the same database and broker.
"""

import os

SECRET_KEY = "job-status-bench"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "job_status",
    "job_status.contrib.celery",
    "django_celery_results",
]

_conn_max_age = os.environ.get("BENCH_CONN_MAX_AGE", "")
if os.environ.get("BENCH_DATABASE", "postgres") == "sqlite":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("BENCH_SQLITE_PATH", "/tmp/job_status_bench.sqlite3"),
            "OPTIONS": {"timeout": 30, "init_command": "PRAGMA journal_mode=WAL;"},
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ.get("BENCH_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("BENCH_PG_PORT", "5432"),
            "USER": os.environ.get("BENCH_PG_USER", "postgres"),
            "PASSWORD": os.environ.get("BENCH_PG_PASSWORD", ""),
            "NAME": os.environ.get("BENCH_DB_NAME", "job_status_bench"),
        }
    }
if _conn_max_age:
    # None (written "none") keeps connections open forever, as Django allows.
    DATABASES["default"]["CONN_MAX_AGE"] = (
        None if _conn_max_age.lower() == "none" else int(_conn_max_age)
    )

BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/0")
KEY_PREFIX = os.environ.get("BENCH_KEY_PREFIX", "job_status_bench:")

CELERY_BROKER_URL = BROKER_URL
if BROKER_URL.startswith("redis"):
    # Every key of the run (queues, bindings, counters) lives under one prefix.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": KEY_PREFIX}
# django-celery-results records the third kind of job; the other two ignore results.
CELERY_RESULT_BACKEND = "django-db"
CELERY_TASK_TRACK_STARTED = True
CELERY_TASK_IGNORE_RESULT = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# job_status's default is True; --no-writer-thread shows what it saves.
JOB_STATUS_WRITER_THREAD = os.environ.get("BENCH_NO_WRITER_THREAD") != "1"

if os.environ.get("BENCH_DB_REUSE_MAX"):
    # Read by Celery's Django fix-up (celery/fixups/django.py): close the
    # worker's database connections only every this many tasks, not around each.
    CELERY_DB_REUSE_MAX = int(os.environ["BENCH_DB_REUSE_MAX"])
