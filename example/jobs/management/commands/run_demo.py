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

# Worker processes: the two long jobs (rebuild, archive) must not hold up the short ones.
CONCURRENCY = 4


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
            "--pool=prefork", f"--concurrency={CONCURRENCY}", "--loglevel=INFO",
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


def ensure_postgres_database() -> bool:
    """Create the demo's PostgreSQL database if it does not exist; ``True`` if it was created.

    Django cannot create the database it connects to, so this connects to the
    server's ``postgres`` maintenance database to do it.
    """
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.postgresql":
        return False
    try:
        import psycopg
        from psycopg import sql
        from psycopg.conninfo import make_conninfo
    except ImportError as exc:
        raise CommandError(
            "EXAMPLE_DATABASE=postgres needs psycopg: pip install 'psycopg[binary]'"
        ) from exc
    name = str(database["NAME"])
    given = {key: database[key.upper()] for key in ("host", "port", "user", "password")}
    params = {key: str(value) for key, value in given.items() if value}
    where = f"{database['HOST']}:{database['PORT']} as {database['USER']}"
    try:
        connection = psycopg.connect(make_conninfo(dbname="postgres", **params), autocommit=True)
    except psycopg.Error as exc:
        try:  # no access to "postgres" is fine if the database is there already
            psycopg.connect(make_conninfo(dbname=name, **params)).close()
            return False
        except psycopg.Error:
            pass
        raise CommandError(
            f"Cannot connect to PostgreSQL ({where}, database 'postgres') to create the "
            f"database {name!r}: {exc}"
        ) from exc
    with connection:
        exists = "SELECT 1 FROM pg_database WHERE datname = %s"
        try:
            if connection.execute(exists, [name]).fetchone():
                return False
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.DuplicateDatabase:
            return False  # another run created it meanwhile
        except psycopg.Error as exc:
            raise CommandError(
                f"Cannot create the PostgreSQL database {name!r} ({where}): {exc}\n"
                "Create it yourself, or set PGDATABASE to a database that exists."
            ) from exc
    return True


def format_progress(job: JobStatus) -> str:
    if job.progress is None:
        return "-"
    if job.progress_total:
        return f"{job.progress:.0f}% ({job.progress_current}/{job.progress_total})"
    return f"{job.progress:.0f}%"


def format_timeline(job: JobStatus) -> str:
    """``queued(1) started(1) retrying(1) ...``: each event with its attempt number."""
    return " ".join(
        f"{event.event}({event.attempt})" if event.attempt else event.event
        for event in job.timeline.all()
    )


def format_table(jobs: Iterable[JobStatus]) -> str:
    header = ("task", "alias", "status", "attempts", "tags", "progress", "runtime", "exception")
    rows = [header]
    for job in jobs:
        runtime = job.runtime
        exception = ""
        if job.exception_type:
            exception = f"{job.exception_type.rpartition('.')[2]}: {job.exception_message}"
        rows.append(
            (
                job.task_id[:8],
                job.alias,
                job.status,
                str(job.attempts),
                ", ".join(str(tag) for tag in job.tags.all()),
                format_progress(job),
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
        "a sync that retries once, an index rebuild that reports progress, an archive job that "
        "gets cancelled), follow them and print what job_status recorded."
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
        if ensure_postgres_database():
            self.stdout.write(f"created the database {database['NAME']}")
        call_command("migrate", interactive=False, verbosity=0)
        reset_broker()

        worker = Worker(settings.VAR_DIR / "worker.log")
        try:
            self.stdout.write(f"starting a worker (prefork, {CONCURRENCY} processes)...")
            worker.start(timeout=30)
            problems = Demo(self.stdout.write, worker, options["timeout"]).run()
        finally:
            worker.stop()
        self.stdout.write(f"worker stopped; log: {worker.log}")

        if problems:
            raise CommandError(
                "The demo did not go as expected:\n" + "\n".join(f"- {p}" for p in problems)
            )
        elapsed = time.monotonic() - begun
        self.stdout.write(self.style.SUCCESS(f"demo passed in {elapsed:.1f} s"))
        self.stdout.write(
            "To look at the records in a browser: example/manage.py createsuperuser, then "
            "example/manage.py runserver, and open /admin/ or the dashboard at /jobs/."
        )


class Demo:
    """One run: dispatch the jobs, follow two of them while they run, then report and check."""

    def __init__(self, write: Callable[[str], object], worker: Worker, timeout: float) -> None:
        self.write = write
        self.worker = worker
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout

    def wait(self, condition: Callable[[], T], what: str, interval: float = 0.1) -> T:
        """``wait_for`` within what is left of the run's timeout; fails with the worker's log."""
        left = max(0.0, self.deadline - time.monotonic())
        result = wait_for(condition, left, interval)
        if result is None:
            raise CommandError(f"{what} within {self.timeout:g} s.\n{self.worker.output()}")
        return result

    def run(self) -> list[str]:
        exports = [tasks.export_results.delay(5), tasks.export_results.delay(7, fmt="json")]
        imported = tasks.import_voters.delay("voters-2024.csv")
        synced = tasks.sync_contacts.delay("crm")
        rebuild = tasks.rebuild_index.delay("voters")
        archive = tasks.archive_ballots.delay(2024)
        ids = [result.id for result in (*exports, imported, synced, rebuild, archive)]
        demo = JobStatus.objects.filter(task_id__in=ids).prefetch_related("tags")

        # The publisher writes the row as it dispatches, so it can be read at
        # once: queued (or already started, if a worker was quick).
        self.write("\nright after dispatch:\n" + format_table(demo.order_by("id")))

        seen_running = self.follow(JobStatus.objects.get(task_id=rebuild.id))
        cancel_returned = self.cancel(JobStatus.objects.get(task_id=archive.id))

        def all_finished() -> bool:
            return demo.count_finished() == len(ids)

        if not wait_for(all_finished, max(0.0, self.deadline - time.monotonic())):
            late = ", ".join(
                f"{job.task_id} ({job.alias}: {job.status})" for job in demo.where_not_finished()
            )
            raise CommandError(
                f"Unfinished after {self.timeout:g} s: {late}\n{self.worker.output()}"
            )

        jobs = {job.task_id: job for job in demo.prefetch_related("timeline", "messages")}
        self.write("\nonce finished:\n" + format_table(jobs[i] for i in ids))
        self.write("\ntimelines, event(attempt) (job.timeline.all()):")
        for task_id in ids:
            job = jobs[task_id]
            self.write(f"  {task_id[:8]}  {job.alias:<8} {format_timeline(job)}")
        for task_id in (rebuild.id, archive.id):
            job = jobs[task_id]
            self.write(f"\n{job.alias} {task_id[:8]}, job.get_messages():")
            for message in job.get_messages():
                self.write(f"  {message}")

        counts = demo.counts()
        self.write(f"\ndemo.counts() -> {counts}")
        election_5 = demo.for_job_alias("export").where_tag("election", "=", 5).first()
        self.write(
            f'demo.for_job_alias("export").where_tag("election", "=", 5).first() -> {election_5}'
        )
        retried = demo.for_job(tasks.sync_contacts).where_tag("nightly").first()
        self.write(f'demo.for_job(sync_contacts).where_tag("nightly").first() -> {retried}')
        failed = list(demo.where_failed().values_list("alias", "exception_message"))
        self.write(f"demo.where_failed() -> {failed}")
        cancelled = list(demo.where_cancelled().values_list("alias", flat=True))
        self.write(f"demo.where_cancelled() -> {cancelled}")
        history = JobStatus.objects.for_job_alias("export").where_succeeded().count()
        self.write(f"exports that succeeded, this run and earlier ones: {history}")

        return check(
            [jobs[i] for i in ids],
            counts,
            election_5,
            seen_running=seen_running,
            cancel_returned=cancel_returned,
        )

    def follow(self, job: JobStatus) -> bool:
        """Print the job's progress and latest message whenever they change, as this
        process reads them from the database, until it ends; ``True`` if it was seen
        running part-way (started, 0 < progress < 100)."""
        self.write(
            f"\nfollowing {job.alias} {job.task_id[:8]} from this process (progress is written "
            "at most once a second, messages at once):"
        )
        seen_running = False
        last: tuple[object, ...] = ()

        def ended() -> bool:
            nonlocal seen_running, last
            job.refresh_from_db()
            latest = job.latest_message()
            now = (job.status, job.progress, latest and latest.text)
            if now != last:
                last = now
                text = f"[{latest.level}] {latest.text}" if latest else "-"
                self.write(f"  {job.status:<9}  {format_progress(job):<12}  {text}")
            if job.is_running() and job.progress is not None and 0 < job.progress < 100:
                seen_running = True
            return job.has_finished()

        self.wait(ended, f"{job.alias} {job.task_id} did not finish", interval=0.05)
        return seen_running

    def cancel(self, job: JobStatus) -> bool:
        """Wait until the job runs and reports progress, cancel it, follow it to its end;
        return what ``cancel()`` returned."""

        def reported_progress() -> bool:
            job.refresh_from_db()
            return job.is_running() and bool(job.progress)

        self.wait(reported_progress, f"{job.alias} {job.task_id} did not start and report progress")
        self.write(
            f"\n{job.alias} {job.task_id[:8]} is {job.status}, at {format_progress(job)}: "
            "cancelling it"
        )
        asked = time.monotonic()
        returned = job.cancel()
        self.write(f"  job.cancel() -> {returned} (it runs: it stops at its next check())")

        def ended() -> bool:
            job.refresh_from_db()
            return job.has_finished()

        self.wait(ended, f"{job.alias} {job.task_id} did not stop after cancel()")
        latest = job.latest_message()
        self.write(
            f"  {job.status} {time.monotonic() - asked:.1f} s later, at {format_progress(job)}; "
            f"latest message: {latest}"
        )
        return returned


def check(
    jobs: Sequence[JobStatus],
    counts: JobCounts,
    election_5: JobStatus | None,
    *,
    seen_running: bool,
    cancel_returned: bool,
) -> list[str]:
    """What should have been recorded, as a list of the differences."""
    problems: list[str] = []
    export_5, export_7, imported, synced, rebuilt, archived = jobs

    def expect(job: JobStatus, what: str, actual: object, expected: object) -> None:
        if actual != expected:
            problems.append(f"{job.alias} {job.task_id}: {what} is {actual!r}, not {expected!r}")

    def levels(job: JobStatus) -> list[str]:
        return [message.level for message in job.get_messages()]

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
    # The events, not their order: the second attempt is published (queued(2))
    # inside retry(), before Celery reports the retry that retrying(1) records.
    events = "queued(1) started(1) retrying(1) queued(2) started(2) succeeded(2)"
    expect(
        synced, "timeline events", sorted(format_timeline(synced).split()), sorted(events.split())
    )

    expect(rebuilt, "status", rebuilt.status, JobStatus.Status.SUCCEEDED)
    expect(rebuilt, "tags", {tag.key: tag.value for tag in rebuilt.tags.all()}, {"index": "voters"})
    progress = (rebuilt.progress, rebuilt.progress_current, rebuilt.progress_total)
    expect(rebuilt, "progress", progress, (100.0, 8, 8))
    expect(rebuilt, "message levels", levels(rebuilt), ["debug", *["info"] * 8, "success"])
    latest = rebuilt.latest_message()
    expect(rebuilt, "latest message", latest and latest.text, "voters: 2000 documents indexed")
    if not seen_running:
        problems.append(f"{rebuilt.alias} {rebuilt.task_id}: never seen started part-way done")

    expect(archived, "status", archived.status, JobStatus.Status.CANCELLED)
    expect(archived, "cancel() result", cancel_returned, False)
    expect(archived, "timeline", format_timeline(archived), "queued(1) started(1) cancelled(1)")
    expect(archived, "message levels", levels(archived), ["warning"])
    if not (archived.progress and archived.progress < 100 and archived.was_cancel_requested):
        problems.append(f"{archived.alias} {archived.task_id}: not stopped part-way on request")

    for job in jobs:
        if not (job.started_at and job.finished_at):
            problems.append(f"{job.alias} {job.task_id}: started_at or finished_at is missing")
        elif not job.queued_at <= job.started_at <= job.finished_at:
            problems.append(f"{job.alias} {job.task_id}: times out of order")
    if counts != JobCounts(finished=6, successful=4, running=0, not_finished=0):
        problems.append(f"counts are {counts}")
    if election_5 is None or election_5.task_id != export_5.task_id:
        problems.append(f"where_tag('election', '=', 5) found {election_5}, not {export_5}")
    return problems
