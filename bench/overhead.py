#!/usr/bin/env python
"""Overhead benchmark (case P4): what tracking a job with job_status costs.

In one run, with one broker, one database and one real ``celery worker``
(prefork pool), N trivial jobs (``a + b``) are sent and run three ways:

- ``untracked``: a plain ``shared_task``; nothing records it;
- ``tracked``: a ``@tracked_task``; job_status writes its queued row at
  dispatch, and its started and succeeded states (and timeline) on the worker;
- ``dcr``: a plain task recorded by django-celery-results (``result_backend
  = "django-db"``, ``CELERY_TASK_TRACK_STARTED = True``).

For each round and kind it reports the dispatch rate (jobs/s published by this
process, job_status's queued-row write included) and the worker throughput
(jobs/s from the first job starting to the last one finishing). The jobs are
published while the worker does not consume their queue; the worker is then
told to consume it, so the two rates never disturb each other. Rounds
alternate (untracked, tracked, dcr, untracked, ...); it prints every round,
the medians, the ratios to untracked and whether the targets are met.

    python bench/overhead.py                        # PostgreSQL + Redis, N=1000, 5 rounds
    python bench/overhead.py --db-reuse-max 1000    # keep the worker's connections
    python bench/overhead.py --instrument           # + statements and connections per job
    python bench/overhead.py --profile              # + cProfile of worker and dispatch

See bench/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
KINDS = ("untracked", "tracked", "dcr")

# The targets of the issue.
TRACKED_WORKER_MIN = 0.85  # tracked worker throughput, as a share of untracked
TRACKED_DISPATCH_MIN = 0.5  # tracked dispatch rate, as a share of untracked


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Overhead of job_status against untracked jobs and django-celery-results.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--jobs", "-n", type=int, default=1000, help="jobs per round and kind")
    parser.add_argument("--rounds", "-r", type=int, default=5, help="rounds of the three kinds")
    parser.add_argument(
        "--warmup", type=int, default=200, help="jobs per kind in an unreported first round"
    )
    parser.add_argument(
        "--broker",
        default="redis://127.0.0.1:6379/0",
        help="broker URL (redis://... or amqp://guest:guest@127.0.0.1:5672//)",
    )
    parser.add_argument(
        "--counter-redis",
        default="",
        help="Redis for the worker's timing counters (default: the broker if it is Redis, "
        "else redis://127.0.0.1:6379/0)",
    )
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument(
        "--db-name",
        default="job_status_bench",
        help="PostgreSQL database, dropped and created by the run",
    )
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", default="5432")
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument("--concurrency", "-c", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--prefetch", type=int, default=4, help="worker prefetch multiplier")
    parser.add_argument(
        "--db-reuse-max",
        type=int,
        default=None,
        help="CELERY_DB_REUSE_MAX for the worker: Celery's Django fix-up then closes the "
        "database connections every this many jobs instead of before and after each one",
    )
    parser.add_argument(
        "--conn-max-age",
        default=None,
        help="Django CONN_MAX_AGE (seconds, or 'none' for forever) for both processes",
    )
    parser.add_argument(
        "--synchronous-commit",
        choices=("on", "off"),
        default=None,
        help="PostgreSQL synchronous_commit for the benchmark's database (default: the "
        "server's); 'off' shows how much of the cost is waiting for the WAL flush of each commit",
    )
    parser.add_argument(
        "--no-writer-thread",
        action="store_true",
        help="JOB_STATUS_WRITER_THREAD = False: job_status writes on the job's own thread "
        "(reconnecting around every job, as Celery's Django fix-up closes its connections)",
    )
    parser.add_argument("--loglevel", default="WARNING", help="the worker's log level")
    parser.add_argument(
        "--instrument",
        action="store_true",
        help="also count and time, per job and per dispatch, SQL statements and connections",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also cProfile the worker's jobs and the dispatches (implies --instrument; "
        "the profiler slows everything: compare its rates only with each other)",
    )
    parser.add_argument("--top", type=int, default=25, help="functions shown per profile")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per round")
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 if a target is missed"
    )
    parser.add_argument(
        "--keep-db", action="store_true", help="keep the database at the end, for a look"
    )
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.rounds < 1 or args.warmup < 0:
        parser.error("--jobs and --rounds must be at least 1, --warmup at least 0")
    if args.profile:
        args.instrument = True
    if not args.counter_redis:
        args.counter_redis = (
            args.broker if args.broker.startswith("redis") else "redis://127.0.0.1:6379/0"
        )
    return args


# -- setup -------------------------------------------------------------------------


class Run:
    """One run's names and folders: queues, Redis keys, worker name, temporary files."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.id = f"{socket.gethostname()}-{os.getpid()}"
        self.key_prefix = f"job_status_bench:{self.id}:"
        self.hostname = f"bench-{os.getpid()}@{socket.gethostname()}"
        self.folder = Path(tempfile.mkdtemp(prefix="job_status_bench_"))
        self.instrument_dir = self.folder / "instrument"
        self.sqlite_path = self.folder / "bench.sqlite3"

    def queue(self, label: str, kind: str) -> str:
        return f"bench-{os.getpid()}.{label}.{kind}"

    def environment(self) -> dict[str, str]:
        args = self.args
        env = {
            "DJANGO_SETTINGS_MODULE": "benchproject.settings",
            "BENCH_DATABASE": args.database,
            "BENCH_DB_NAME": args.db_name,
            "BENCH_PG_HOST": args.pg_host,
            "BENCH_PG_PORT": str(args.pg_port),
            "BENCH_PG_USER": args.pg_user,
            "BENCH_SQLITE_PATH": str(self.sqlite_path),
            "BENCH_BROKER_URL": args.broker,
            "BENCH_COUNTER_URL": args.counter_redis,
            "BENCH_KEY_PREFIX": self.key_prefix,
            "BENCH_DB_REUSE_MAX": str(args.db_reuse_max or ""),
            "BENCH_CONN_MAX_AGE": str(args.conn_max_age or ""),
        }
        if args.no_writer_thread:
            env["BENCH_NO_WRITER_THREAD"] = "1"
        if args.instrument:
            env["BENCH_INSTRUMENT_DIR"] = str(self.instrument_dir)
            self.instrument_dir.mkdir(exist_ok=True)
        if args.profile:
            env["BENCH_PROFILE"] = "1"
        return env


def postgres_admin(args: argparse.Namespace) -> Any:
    import psycopg

    return psycopg.connect(
        host=args.pg_host, port=args.pg_port, user=args.pg_user, dbname="postgres", autocommit=True
    )


def create_database(args: argparse.Namespace) -> None:
    if args.database != "postgres":
        return
    from psycopg import sql

    with postgres_admin(args) as admin:
        name = sql.Identifier(args.db_name)
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(name))
        if args.synchronous_commit:
            admin.execute(
                sql.SQL("ALTER DATABASE {} SET synchronous_commit = {}").format(
                    name, sql.Literal(args.synchronous_commit)
                )
            )


def drop_database(args: argparse.Namespace) -> None:
    if args.database != "postgres" or args.keep_db:
        return
    from django.db import connections
    from psycopg import sql

    connections.close_all()
    with postgres_admin(args) as admin:
        name = sql.Identifier(args.db_name)
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


class Worker:
    """A real ``celery worker`` process with a prefork pool, on the run's own idle queue."""

    def __init__(self, run: Run, app: Any) -> None:
        self.run = run
        self.app = app
        self.log = run.folder / "worker.log"
        args = run.args
        env = {
            **os.environ,
            **run.environment(),
            "PYTHONPATH": os.pathsep.join(
                [str(BENCH), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "benchproject.celery_app",
                "worker",
                "--pool=prefork",
                f"--concurrency={args.concurrency}",
                f"--prefetch-multiplier={args.prefetch}",
                f"--loglevel={args.loglevel}",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                f"--queues={run.queue('idle', 'none')}",
                f"--hostname={run.hostname}",
                f"--logfile={self.log}",
            ],
            cwd=BENCH,
            env=env,
            start_new_session=True,  # its own process group, for a clean kill
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while not self.app.control.ping(destination=[run.hostname], timeout=0.5):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the worker did not start:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def control(self, command: str, queue: str) -> None:
        replies = getattr(self.app.control, command)(
            queue, destination=[self.run.hostname], reply=True, timeout=10
        )
        if not replies:
            raise RuntimeError(f"the worker did not answer {command}({queue!r})")

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # warm shutdown: pool processes report
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


# -- one round -----------------------------------------------------------------------


class Bench:
    def __init__(self, run: Run, app: Any, counters: Any) -> None:
        from benchproject import tasks

        self.run = run
        self.args = run.args
        self.app = app
        self.counters = counters
        self.tasks = {
            "untracked": tasks.add_untracked,
            "tracked": tasks.add_tracked,
            "dcr": tasks.add_dcr,
        }
        self.worker: Worker | None = None
        self.dispatch_instrument: Any = None
        self.dispatch_profiles: dict[str, cProfile.Profile] = {}

    def dispatch(self, kind: str, queue: str, jobs: int) -> float:
        """Publish ``jobs`` jobs of ``kind`` to ``queue``; the rate in jobs/s."""
        from benchproject import worker_hooks

        apply_async = self.tasks[kind].apply_async
        profiler = None
        if self.args.profile:
            profiler = self.dispatch_profiles.setdefault(kind, cProfile.Profile())
        worker_hooks._state["kind"] = f"dispatch {kind}"
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        for number in range(jobs):
            apply_async((number, number), queue=queue)
        if profiler is not None:
            profiler.disable()
        elapsed = time.perf_counter() - started
        worker_hooks._state["kind"] = None
        if self.dispatch_instrument is not None:
            self.dispatch_instrument.stats[f"dispatch {kind}"]["jobs"] += jobs
            self.dispatch_instrument.stats[f"dispatch {kind}"]["trace_seconds"] += elapsed
        return jobs / elapsed

    def consume(self, queue: str, jobs: int, kind: str) -> float:
        """Let the worker run the queue; its throughput in jobs/s, first start to last end.

        A tracked job's end is written by job_status's status writer after the job
        (see docs/deployment.md): its last end is when its last row says
        succeeded, if that comes after the last job's own end."""
        from benchproject.worker_hooks import counter_keys

        assert self.worker is not None
        done, starts, ends = counter_keys(queue)
        self.worker.control("add_consumer", queue)
        deadline = time.monotonic() + self.args.timeout
        while int(self.counters.get(done) or 0) < jobs:
            if self.worker.process.poll() is not None:
                raise RuntimeError(f"the worker died:\n{self.worker.output()[-4000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{queue}: only {self.counters.get(done)} of {jobs} jobs done in "
                    f"{self.args.timeout} s:\n{self.worker.output()[-4000:]}"
                )
            time.sleep(0.01)
        written = time.time()
        if kind == "tracked":
            from job_status.models import JobStatus

            while JobStatus.objects.filter(status="succeeded").count() < jobs:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{queue}: the succeeded rows were not all written")
                time.sleep(0.005)
            written = time.time()
        self.worker.control("cancel_consumer", queue)
        first = min(float(value) for value in self.counters.hvals(starts))
        last = max(float(value) for value in self.counters.hvals(ends))
        if kind == "tracked":
            last = max(last, written)
        self.counters.delete(done, starts, ends)
        return jobs / (last - first)

    def check(self, kind: str, jobs: int, after: str) -> None:
        """What each kind must have recorded: nothing, job_status rows, or dcr rows."""
        from django_celery_results.models import TaskResult

        from job_status.models import JobStatus

        expected = {
            "untracked": (0, 0),
            "tracked": (jobs, 0),
            "dcr": (0, jobs if after == "run" else 0),
        }[kind]
        rows = JobStatus.objects.filter(status="queued" if after == "dispatch" else "succeeded")
        found = (rows.count(), TaskResult.objects.filter(status="SUCCESS").count())
        if found != expected:
            raise RuntimeError(
                f"{kind} after {after}: expected {expected} (job_status rows, dcr rows), "
                f"found {found}"
            )

    def clean(self, queue: str) -> None:
        """Empty the tables and delete the round's queue: every round starts the same."""
        from django.apps import apps
        from django.core.management.color import no_style
        from django.db import connection

        models = [
            *apps.get_app_config("job_status").get_models(),
            *apps.get_app_config("django_celery_results").get_models(),
        ]
        tables = [model._meta.db_table for model in models]
        connection.ops.execute_sql_flush(connection.ops.sql_flush(no_style(), tables))
        with self.app.connection_for_write() as broker:
            broker.default_channel.queue_delete(queue)

    def round(self, label: str, kind: str, jobs: int) -> tuple[float, float]:
        queue = self.run.queue(label, kind)
        dispatch = self.dispatch(kind, queue, jobs)
        self.check(kind, jobs, "dispatch")
        worker = self.consume(queue, jobs, kind)
        self.check(kind, jobs, "run")
        self.clean(queue)
        return dispatch, worker


# -- reporting -------------------------------------------------------------------------


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def report(
    args: argparse.Namespace,
    rounds: list[dict[str, tuple[float, float]]],
    out: Callable[[str], None] = print,
) -> dict[str, Any]:
    dispatch = {kind: statistics.median(r[kind][0] for r in rounds) for kind in KINDS}
    worker = {kind: statistics.median(r[kind][1] for r in rounds) for kind in KINDS}
    out("")
    out("Medians (jobs/s)")
    out(f"  {'kind':<10} {'dispatch':>10} {'worker':>10}")
    for kind in KINDS:
        out(f"  {kind:<10} {dispatch[kind]:>10.0f} {worker[kind]:>10.0f}")
    out("")
    out("Ratios to untracked (medians)")
    for kind in ("tracked", "dcr"):
        out(
            f"  {kind + '/untracked':<18} dispatch {ratio(dispatch[kind], dispatch['untracked'])}"
            f"   worker {ratio(worker[kind], worker['untracked'])}"
        )
    out(
        f"  {'tracked/dcr':<18} dispatch {ratio(dispatch['tracked'], dispatch['dcr'])}"
        f"   worker {ratio(worker['tracked'], worker['dcr'])}"
    )
    out("")
    out("Ratios within each round (median, min-max): steadier when the machine is busy")
    for kind, base in (("tracked", "untracked"), ("dcr", "untracked"), ("tracked", "dcr")):
        cells = []
        for index, what in ((0, "dispatch"), (1, "worker")):
            values = [r[kind][index] / r[base][index] for r in rounds]
            cells.append(
                f"{what} {statistics.median(values):.2f}x ({min(values):.2f}-{max(values):.2f})"
            )
        out(f"  {kind + '/' + base:<18} {'   '.join(cells)}")
    out("")
    per_dispatch = 1000 / dispatch["tracked"] - 1000 / dispatch["untracked"]
    out(
        f"The queued row costs {per_dispatch:.3f} ms per dispatch "
        f"({1000 / dispatch['untracked']:.3f} ms untracked, "
        f"{1000 / dispatch['tracked']:.3f} ms tracked)."
    )
    for kind in ("tracked", "dcr"):
        extra = args.concurrency * (1000 / worker[kind] - 1000 / worker["untracked"])
        out(
            f"{kind.capitalize()} jobs cost each pool process {extra:.3f} ms more per job "
            f"than untracked ({args.concurrency * 1000 / worker['untracked']:.3f} ms "
            f"-> {args.concurrency * 1000 / worker[kind]:.3f} ms)."
        )
    targets = [
        (
            f"tracked worker throughput >= {TRACKED_WORKER_MIN}x untracked",
            worker["tracked"] >= TRACKED_WORKER_MIN * worker["untracked"],
            ratio(worker["tracked"], worker["untracked"]),
        ),
        (
            "tracked worker throughput > django-celery-results'",
            worker["tracked"] > worker["dcr"],
            ratio(worker["tracked"], worker["dcr"]),
        ),
        (
            f"tracked dispatch rate >= {TRACKED_DISPATCH_MIN}x untracked",
            dispatch["tracked"] >= TRACKED_DISPATCH_MIN * dispatch["untracked"],
            ratio(dispatch["tracked"], dispatch["untracked"]),
        ),
    ]
    out("")
    out("Targets")
    for name, met, value in targets:
        out(f"  [{'met' if met else 'MISSED'}] {name}: {value}")
    return {"dispatch": dispatch, "worker": worker, "targets": targets}


def merge_stats(files: Iterator[Path]) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for path in files:
        for kind, stats in json.loads(path.read_text()).items():
            into = merged.setdefault(kind, {"statements": defaultdict(lambda: [0, 0.0])})
            for key, value in stats.items():
                if key == "statements":
                    for statement, (count, seconds) in value.items():
                        into["statements"][statement][0] += count
                        into["statements"][statement][1] += seconds
                else:
                    into[key] = into.get(key, 0) + value
    return merged


def report_instrumentation(
    title: str, stats: dict[str, dict[str, Any]], out: Callable[[str], None] = print
) -> None:
    out("")
    out(title)
    for kind, entry in sorted(stats.items()):
        jobs = entry.get("jobs", 0)
        if not jobs:
            continue
        statements = entry["statements"]
        total_statements = sum(count for count, _ in statements.values())
        sql_seconds = sum(seconds for _, seconds in statements.values())
        out(
            f"  {kind}: {jobs} jobs, {1000 * entry['trace_seconds'] / jobs:.3f} ms each; per job: "
            f"{entry['connects'] / jobs:.2f} connects ({1000 * entry['connect_seconds'] / jobs:.3f}"
            f" ms), {entry['closes'] / jobs:.2f} closes ({1000 * entry['close_seconds'] / jobs:.3f}"
            f" ms), {entry['commits'] / jobs:.2f} commits "
            f"({1000 * entry['commit_seconds'] / jobs:.3f} ms), {total_statements / jobs:.2f} "
            f"statements ({1000 * sql_seconds / jobs:.3f} ms)"
        )
        for statement, (count, seconds) in sorted(statements.items(), key=lambda item: -item[1][1]):
            if count / jobs < 0.005:
                continue  # e.g. the first statements of a connection kept for many jobs
            out(f"      {count / jobs:5.2f} x {statement:<62} {1000 * seconds / jobs:7.3f} ms")


# Where job_status's time goes, as cProfile names the functions (file suffix, name).
WATCHED = [
    ("celery/app/trace.py", "trace_task"),
    ("job_status/contrib/celery/handlers.py", "on_prerun"),
    ("job_status/contrib/celery/handlers.py", "on_success"),
    ("job_status/contrib/celery/handlers.py", "on_postrun"),
    ("job_status/contrib/celery/handlers.py", "on_after_publish"),
    ("job_status/contrib/celery/tasks.py", "apply_async"),
    ("job_status/contrib/celery/tasks.py", "_tracking_headers"),
    ("job_status/contrib/celery/tasks.py", "_run_tracked"),
    ("job_status/contrib/celery/info.py", "worker_info"),
    ("job_status/contrib/celery/info.py", "job_info"),
    ("job_status/contrib/celery/info.py", "worker_tracks"),
    ("job_status/contrib/celery/info.py", "stored_arguments"),
    ("job_status/recording.py", "record"),
    ("job_status/recording.py", "record_dispatch"),
    ("job_status/recording.py", "_update"),
    ("job_status/recording.py", "_create"),
    ("job_status/recording.py", "_write_timeline"),
    ("job_status/running.py", "open_handle"),
    ("job_status/running.py", "close_handle"),
    ("celery/fixups/django.py", "on_task_prerun"),
    ("celery/fixups/django.py", "on_task_postrun"),
    ("django/db/backends/base/base.py", "connect"),
    ("django/db/backends/base/base.py", "close"),
    ("django/db/backends/utils.py", "execute"),
    ("django/db/models/query.py", "update"),
    ("django/db/models/query.py", "create"),
    ("django/db/models/sql/compiler.py", "as_sql"),
    ("django/db/transaction.py", "__exit__"),
    ("django_celery_results/backends/database.py", "_store_result"),
    ("django_celery_results/managers.py", "store_result"),
    ("celery/app/task.py", "apply_async"),
    ("kombu/messaging.py", "_publish"),
]


def report_profile(
    title: str, profile: pstats.Stats, jobs: int, top: int, out: Callable[[str], None] = print
) -> None:
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = profile.stats  # type: ignore[attr-defined]
    cumulative: dict[str, tuple[int, float, float]] = {}
    for (filename, _, name), (_, calls, own, total, _) in raw.items():
        for suffix, watched in WATCHED:
            if name == watched and filename.endswith(suffix):
                label = f"{suffix.rsplit('/', 1)[-1]}:{name}"
                count, own_before, total_before = cumulative.get(label, (0, 0.0, 0.0))
                cumulative[label] = (count + calls, own_before + own, total_before + total)
    out("")
    out(f"{title}: cumulative ms per job (under cProfile), calls per job")
    for label, (calls, _, total) in sorted(cumulative.items(), key=lambda item: -item[1][2]):
        out(f"  {1000 * total / jobs:8.3f} ms  {calls / jobs:5.2f} x  {label}")
    out(f"{title}: top {top} functions by own time (ms per job)")
    rows = sorted(raw.items(), key=lambda item: -item[1][2])[:top]
    for (filename, line, name), (_, calls, own, total, _) in rows:
        where = filename.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
        out(
            f"  {1000 * own / jobs:8.3f} own {1000 * total / jobs:8.3f} cum  {calls / jobs:6.2f} x"
            f"  {where}:{line}({name})"
        )


# -- main --------------------------------------------------------------------------


@contextmanager
def django_project(run: Run) -> Iterator[Any]:
    """Django set up on the run's fresh database; the Celery app; cleaned up afterwards."""
    os.environ.update(run.environment())
    sys.path[:0] = [str(BENCH), str(ROOT)]
    create_database(run.args)
    try:
        import django

        django.setup()
        from benchproject.celery_app import app
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        yield app
    finally:
        drop_database(run.args)


def code_version() -> str:
    """The commit of the job_status being measured, and whether job_status/ has changes."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "job_status"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{commit}{' + uncommitted changes in job_status/' if changed else ''}"


def sweep_redis(client: Any, prefix: str) -> None:
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = Run(args)
    started = time.monotonic()
    import redis

    counters = redis.Redis.from_url(args.counter_redis)
    broker_redis = redis.Redis.from_url(args.broker) if args.broker.startswith("redis") else None
    settings_line = (
        f"jobs={args.jobs} rounds={args.rounds} warmup={args.warmup} database={args.database}"
        f" broker={args.broker} concurrency={args.concurrency} prefetch={args.prefetch}"
        f" db_reuse_max={args.db_reuse_max} conn_max_age={args.conn_max_age}"
        f" synchronous_commit={args.synchronous_commit or 'server default'}"
        f"{' no_writer_thread' if args.no_writer_thread else ''}"
        f" loglevel={args.loglevel}{' instrument' if args.instrument else ''}"
        f"{' profile' if args.profile else ''}"
    )
    try:
        with django_project(run) as app:
            import celery
            import django
            import django_celery_results

            print(f"job_status overhead benchmark (P4): {settings_line}")
            print(
                f"Python {sys.version.split()[0]}, Django {django.__version__}, Celery "
                f"{celery.__version__}, django-celery-results {django_celery_results.__version__},"
                f" job_status at {code_version()}"
            )
            bench = Bench(run, app, counters)
            if args.instrument:
                from benchproject.worker_hooks import Instrument
                from django.db import connection

                bench.dispatch_instrument = Instrument(run.instrument_dir, profile=False)
                bench.dispatch_instrument.count_sql()
                connection.close()  # reconnects with the statement counter
            bench.worker = Worker(run, app)
            try:
                if args.warmup:
                    for kind in KINDS:
                        bench.round("warmup", kind, args.warmup)
                    if bench.dispatch_instrument is not None:
                        bench.dispatch_instrument.stats.clear()
                    bench.dispatch_profiles.clear()
                print("")
                print(f"{'round':>5} {'kind':<10} {'dispatch/s':>11} {'worker/s':>10}")
                rounds: list[dict[str, tuple[float, float]]] = []
                for number in range(1, args.rounds + 1):
                    results: dict[str, tuple[float, float]] = {}
                    for kind in KINDS:
                        results[kind] = bench.round(f"r{number}", kind, args.jobs)
                        dispatch, worker = results[kind]
                        print(f"{number:>5} {kind:<10} {dispatch:>11.0f} {worker:>10.0f}")
                    rounds.append(results)
            finally:
                bench.worker.stop()
            problems = [
                line
                for line in bench.worker.output().splitlines()
                if "ERROR/" in line or "CRITICAL/" in line or "Signal handler" in line
            ]
            if problems:
                print(f"\nThe worker logged {len(problems)} errors; the first ones:")
                for line in problems[:5]:
                    print(f"  {line}")
            summary = report(args, rounds)
            if args.instrument:
                report_instrumentation(
                    "Worker side, per job (pool processes; warm-up included)",
                    merge_stats(run.instrument_dir.glob("stats-*.json")),
                )
                report_instrumentation(
                    "Dispatch side, per dispatch (this process)",
                    json.loads(json.dumps(bench.dispatch_instrument.stats)),
                )
            if args.profile:
                worker_jobs = (args.jobs * args.rounds) + args.warmup
                for kind in KINDS:
                    files = [str(p) for p in run.instrument_dir.glob(f"profile-{kind}-*.prof")]
                    if files:
                        report_profile(
                            f"Worker {kind}", pstats.Stats(*files), worker_jobs, args.top
                        )
                for kind, profiler in bench.dispatch_profiles.items():
                    report_profile(
                        f"Dispatch {kind}",
                        pstats.Stats(profiler),
                        args.jobs * args.rounds,
                        args.top,
                    )
        print(f"\nThe run took {time.monotonic() - started:.0f} s.")
        missed = not all(met for _, met, _ in summary["targets"])
        return 1 if args.strict and missed else 0
    finally:
        sweep_redis(counters, run.key_prefix)
        if broker_redis is not None:
            sweep_redis(broker_redis, run.key_prefix)
        shutil.rmtree(run.folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
