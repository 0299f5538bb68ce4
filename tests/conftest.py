"""Fixtures: a real Celery worker process, and waiting for what it writes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connections

import tests.celery_app  # noqa: F401  (makes the tests' Celery app current)

ROOT = Path(__file__).resolve().parent.parent


STARTED_WORKERS: list[Worker] = []


def wait_until(
    condition: Callable[[], object],
    timeout: float = 30.0,
    interval: float = 0.05,
    describe: Callable[[], str] = lambda: "",
):
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds,
    saying what ``describe`` says and what the workers logged last."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            logs = "\n".join(worker.output()[-4000:] for worker in STARTED_WORKERS)
            raise AssertionError(
                f"condition not met within {timeout} s. {describe()}\nWorker logs:\n{logs}"
            )
        time.sleep(interval)


@pytest.fixture(scope="session", autouse=True)
def _broker() -> Iterator[None]:
    """This run's own, empty broker (folders, or keys under a prefix in Redis);
    removed at the end. A Redis that does not answer fails the run here, loudly."""
    if settings.REDIS_URL:
        client = redis.Redis.from_url(settings.REDIS_URL)
        try:
            client.ping()
        except redis.RedisError as exc:
            pytest.exit(f"JOB_STATUS_TEST_REDIS={settings.REDIS_URL} does not answer: {exc}", 2)
        yield
        for key in client.scan_iter(f"{settings.REDIS_KEY_PREFIX}*"):
            client.delete(key)
        return
    broker = Path(settings.BROKER_DIR)
    shutil.rmtree(broker, ignore_errors=True)
    for key in ("data_folder_in", "control_folder"):
        Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS[key])).mkdir(parents=True, exist_ok=True)
    yield
    shutil.rmtree(broker, ignore_errors=True)


class Worker:
    """A real ``celery worker`` process (prefork pool) on the test database."""

    def __init__(
        self,
        log: Path,
        concurrency: int = 2,
        queue: str = "celery",
        env: dict[str, str] | None = None,
    ) -> None:
        self.log = log
        self.queue = queue
        database = connections["default"].settings_dict["NAME"]
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "JOB_STATUS_WORKER_DB": str(database),
            "JOB_STATUS_TEST_RUN_ID": settings.RUN_ID,
            **(env or {}),
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tests.celery_app",
                "worker",
                "--pool=prefork",
                f"--concurrency={concurrency}",
                "--loglevel=INFO",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                f"--queues={queue}",
                f"--hostname={queue}@%h",
                f"--logfile={log}",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,  # its own process group, so kill() reaches every process
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        STARTED_WORKERS.append(self)
        wait_until(self._ready, timeout=60)

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"worker exited with {self.process.returncode}:\n{self.output()}")
        return self.log.exists() and "ready." in self.log.read_text()

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def tracking_errors(self) -> list[str]:
        """Lines where a signal handler raised or job_status could not record (errors,
        not the warnings some tests cause on purpose)."""
        return [
            line
            for line in self.output().splitlines()
            if "Signal handler" in line or ("job_status:" in line and "ERROR/" in line)
        ]

    def kill(self) -> None:
        """Kill the whole worker at once, main process and pool alike: nothing reports."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # warm shutdown
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Worker]:
    """One worker process for the session, started once the test database exists."""
    worker = Worker(tmp_path_factory.mktemp("worker") / "worker.log")
    yield worker
    worker.stop()


@pytest.fixture
def doomed_worker(django_db_setup, transactional_db, tmp_path) -> Iterator[Worker]:
    """A worker of this test's own, on the queue "doomed", for the test to kill."""
    worker = Worker(tmp_path / "doomed.log", concurrency=1, queue="doomed")
    yield worker
    if worker.process.poll() is None:
        worker.kill()


@pytest.fixture
def start_worker(django_db_setup, transactional_db, tmp_path) -> Iterator[Callable[..., Worker]]:
    """Start workers of this test's own (``start_worker("queue", concurrency=4)``);
    each is stopped after the test, and the test fails if one logged a tracking error."""
    started: list[Worker] = []

    def start(queue: str, concurrency: int = 1, env: dict[str, str] | None = None) -> Worker:
        worker = Worker(tmp_path / f"{queue}.log", concurrency=concurrency, queue=queue, env=env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
        assert worker.tracking_errors() == [], f"tracking failed in the {worker.queue} worker"


@pytest.fixture
def on_postgres() -> None:
    """For tests of what only PostgreSQL shows; ``make test`` runs them in its PostgreSQL pass."""
    if not settings.POSTGRES_URL:
        pytest.fail("This test needs PostgreSQL: run it with JOB_STATUS_TEST_POSTGRES set.")


@pytest.fixture(scope="session")
def track_all_worker_process(
    django_db_setup, django_db_blocker, tmp_path_factory
) -> Iterator[Worker]:
    """A second worker, with ``JOB_STATUS_TRACK_ALL_TASKS`` on, serving the queue "track-all"."""
    worker = Worker(
        tmp_path_factory.mktemp("worker") / "worker.log",
        concurrency=1,
        queue="track-all",
        env={"JOB_STATUS_TEST_TRACK_ALL": "1"},
    )
    yield worker
    worker.stop()


def _checked(worker: Worker) -> Iterator[Worker]:
    before = len(worker.tracking_errors())
    yield worker
    assert worker.tracking_errors()[before:] == [], "tracking failed in the worker"


@pytest.fixture
def track_all_worker(track_all_worker_process, transactional_db) -> Iterator[Worker]:
    yield from _checked(track_all_worker_process)


@pytest.fixture
def redis_worker(celery_worker_process, transactional_db) -> Iterator[Worker]:
    """The worker, on Redis: for what the embedded broker cannot show (redelivery,
    chords). Run with JOB_STATUS_TEST_REDIS set (``make test`` does)."""
    if not settings.REDIS_URL:
        pytest.fail(
            "This test needs Redis: run it with JOB_STATUS_TEST_REDIS=redis://127.0.0.1:6379/0."
        )
    yield from _checked(celery_worker_process)


@pytest.fixture
def worker(celery_worker_process, transactional_db) -> Iterator[Worker]:
    """A real worker that sees this test's rows: the test runs outside a transaction.

    The test fails if the worker logged a tracking error while it ran.
    """
    yield from _checked(celery_worker_process)
