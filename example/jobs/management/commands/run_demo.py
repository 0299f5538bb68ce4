"""``manage.py run_demo``: dispatch real jobs to a real worker and show what job_status recorded."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from example_project.celery import app as celery_app
from kombu.exceptions import OperationalError

from job_status.models import JobStatus
from job_status.query import JobCounts
from jobs import tasks

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float, interval: float = 0.1) -> T | None:
    """Poll ``condition`` until it returns something truthy; ``None`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result or time.monotonic() > deadline:
            return result or None
        time.sleep(interval)


class Worker:
    """A real ``celery worker`` process (prefork pool) started from ``example/``."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float) -> None:
        command = [
            sys.executable, "-m", "celery", "-A", "example_project", "worker",
            "--pool=prefork", "--concurrency=2", "--loglevel=INFO",
            "--without-mingle", "--without-gossip", "--without-heartbeat",
        ]  # fmt: skip
        # stdout and stderr rather than --logfile: an error before Celery sets
        # up logging (a bad import, a broker that refuses) lands there too.
        # INFO, because "ready." is the line that says the worker consumes.
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                # `python -m` puts the cwd on sys.path: example_project and jobs
                # import from there, whichever directory run_demo was started in.
                cwd=settings.BASE_DIR,
                # Inherited: DJANGO_SETTINGS_MODULE, EXAMPLE_DATABASE, CELERY_BROKER_URL...
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if not wait_for(self._ready, timeout):
            raise CommandError(f"The worker was not ready within {timeout:g} s.\n{self.output()}")

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise CommandError(
                f"The worker exited with code {self.process.returncode}.\n{self.output()}"
            )
        return " ready." in self.output()

    def output(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.log} ---\n{text}--- end of worker log ---"

    def stop(self, timeout: float = 20) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # warm shutdown: finish running jobs
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def reset_broker() -> None:
    """Start from an empty broker, so that no message of an earlier, interrupted run is run now."""
    options: dict[str, str] = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    if options:  # the filesystem transport: its folders are the queue
        shutil.rmtree(settings.BROKER_DIR, ignore_errors=True)
        for key in ("data_folder_in", "data_folder_out", "control_folder"):
            Path(options[key]).mkdir(parents=True, exist_ok=True)
    else:  # a server: empty the project's own queue (see CELERY_TASK_DEFAULT_QUEUE)
        try:
            celery_app.control.purge()
        except OperationalError as exc:
            url = celery_app.conf.broker_url
            raise CommandError(f"Cannot reach the broker {url}: {exc}") from exc


def format_table(jobs: Iterable[JobStatus]) -> str:
    header = ("task", "job", "alias", "status", "attempts", "tags", "runtime", "exception")
    rows = [header]
    for job in jobs:
        runtime = job.runtime
        exception = ""
        if job.exception_type:
            exception = f"{job.exception_type.rpartition('.')[2]}: {job.exception_message}"
        rows.append(
            (
                job.task_id[:8],
                job.job,
                job.alias,
                job.status,
                str(job.attempts),
                ", ".join(str(tag) for tag in job.tags.all()),
                f"{runtime.total_seconds():.2f} s" if runtime is not None else "-",
                exception,
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = ("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(line.rstrip() for line in lines)


class Command(BaseCommand):
    help = (
        "Migrate, start a Celery worker, dispatch tracked jobs (two exports, a failing import, "
        "a sync that retries once), wait for them and print what job_status recorded."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--timeout", type=float, default=60, help="Seconds to wait for the jobs (default 60)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        begun = time.monotonic()
        database = settings.DATABASES["default"]
        engine = str(database["ENGINE"]).rpartition(".")[2]
        self.stdout.write(f"database: {engine} {database['NAME']}")
        self.stdout.write(f"broker:   {celery_app.conf.broker_url}")
        call_command("migrate", interactive=False, verbosity=0)
        reset_broker()

        worker = Worker(settings.VAR_DIR / "worker.log")
        try:
            self.stdout.write("starting a worker (prefork, 2 processes)...")
            worker.start(timeout=30)
            problems = self.run_jobs(worker, options["timeout"])
        finally:
            worker.stop()
        self.stdout.write(f"worker stopped; log: {worker.log}")

        if problems:
            raise CommandError(
                "The demo did not go as expected:\n" + "\n".join(f"- {p}" for p in problems)
            )
        elapsed = time.monotonic() - begun
        self.stdout.write(self.style.SUCCESS(f"demo passed in {elapsed:.1f} s"))

    def run_jobs(self, worker: Worker, timeout: float) -> list[str]:
        exports = [tasks.export_results.delay(5), tasks.export_results.delay(7, fmt="json")]
        imported = tasks.import_voters.delay("voters-2024.csv")
        synced = tasks.sync_contacts.delay("crm")
        ids = [result.id for result in (*exports, imported, synced)]
        demo = JobStatus.objects.filter(task_id__in=ids).prefetch_related("tags")

        # The publisher writes the row as it dispatches, so it can be read at
        # once: queued (or already started, if a worker was quick).
        self.stdout.write("\nright after dispatch:\n" + format_table(demo.order_by("id")))

        def all_finished() -> bool:
            return demo.count_finished() == len(ids)

        if not wait_for(all_finished, timeout):
            late = ", ".join(
                f"{job.task_id} ({job.alias}: {job.status})" for job in demo.where_not_finished()
            )
            raise CommandError(f"Unfinished after {timeout:g} s: {late}\n{worker.output()}")

        jobs = {job.task_id: job for job in demo}
        self.stdout.write("\nonce finished:\n" + format_table(jobs[i] for i in ids))

        counts = demo.counts()
        self.stdout.write(f"\ndemo.counts() -> {counts}")
        election_5 = demo.for_job_alias("export").where_tag("election", "=", 5).first()
        self.stdout.write(
            f'demo.for_job_alias("export").where_tag("election", "=", 5).first() -> {election_5}'
        )
        retried = demo.for_job(tasks.sync_contacts).where_tag("nightly").first()
        self.stdout.write(f'demo.for_job(sync_contacts).where_tag("nightly").first() -> {retried}')
        failed = list(demo.where_failed().values_list("alias", "exception_message"))
        self.stdout.write(f"demo.where_failed() -> {failed}")
        history = JobStatus.objects.for_job_alias("export").where_succeeded().count()
        self.stdout.write(f"exports that succeeded, this run and earlier ones: {history}")

        return check(jobs, ids, counts, election_5)


def check(
    jobs: dict[str, JobStatus], ids: Sequence[str], counts: JobCounts, election_5: JobStatus | None
) -> list[str]:
    """What should have been recorded, as a list of the differences."""
    problems: list[str] = []
    export_5, export_7, imported, synced = (jobs[i] for i in ids)

    def expect(job: JobStatus, what: str, actual: object, expected: object) -> None:
        if actual != expected:
            problems.append(f"{job.alias} {job.task_id}: {what} is {actual!r}, not {expected!r}")

    for job, tags in ((export_5, {"election": 5, "format": "csv"}),
                      (export_7, {"election": 7, "format": "json"})):  # fmt: skip
        expect(job, "status", job.status, JobStatus.Status.SUCCEEDED)
        expect(job, "attempts", job.attempts, 1)
        expect(job, "tags", {tag.key: tag.value for tag in job.tags.all()}, tags)
    expect(imported, "status", imported.status, JobStatus.Status.FAILED)
    expect(imported, "exception", (imported.exception_type, imported.exception_message),
           ("builtins.ValueError", "row 12: missing postcode"))  # fmt: skip
    expect(synced, "status", synced.status, JobStatus.Status.SUCCEEDED)
    expect(synced, "attempts", synced.attempts, 2)
    expect(synced, "exception", synced.exception_type, "")
    for job in jobs.values():
        if not (job.started_at and job.finished_at):
            problems.append(f"{job.alias} {job.task_id}: started_at or finished_at is missing")
        elif not job.queued_at <= job.started_at <= job.finished_at:
            problems.append(f"{job.alias} {job.task_id}: times out of order")
    if counts != JobCounts(finished=4, successful=3, running=0, not_finished=0):
        problems.append(f"counts are {counts}")
    if election_5 is None or election_5.task_id != export_5.task_id:
        problems.append(f"where_tag('election', '=', 5) found {election_5}, not {export_5}")
    return problems
