"""What the benchmark adds to each worker pool process: timing, and optionally instrumentation.

Timing (always on): for each queue (the benchmark gives every round and kind
of job its own queue), every pool process notes in Redis when it started its
first job, when it finished its latest one, and counts finished jobs. One
pipelined round trip per job, the same for the three kinds of job.

Instrumentation (``BENCH_INSTRUMENT_DIR`` set): per kind of job, the time each
job spends in the pool process (Celery's whole trace of it: signals, body,
result), the database connections it opens and closes, and the SQL it runs,
by statement; with ``BENCH_PROFILE=1`` also a cProfile of those traces. Each
pool process writes them to that folder when it exits.
"""

from __future__ import annotations

import cProfile
import json
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import redis
from celery import signals
from celery.app import trace

KIND_OF_TASK = {
    "bench.add_untracked": "untracked",
    "bench.add_tracked": "tracked",
    "bench.add_dcr": "dcr",
}

_state: dict[str, Any] = {"redis": None, "seen": set(), "kind": None}


def counter_keys(queue: str) -> tuple[str, str, str]:
    """The Redis keys of one queue's timing: finished jobs, first starts, latest ends."""
    prefix = os.environ.get("BENCH_KEY_PREFIX", "job_status_bench:")
    return f"{prefix}done:{queue}", f"{prefix}starts:{queue}", f"{prefix}ends:{queue}"


def _queue_of(task: Any) -> str:
    return str((task.request.delivery_info or {}).get("routing_key") or "")


def _on_prerun(sender: Any = None, task: Any = None, **_: Any) -> None:
    queue = _queue_of(task or sender)
    if queue not in _state["seen"]:
        _state["seen"].add(queue)
        _, starts, _ = counter_keys(queue)
        _state["redis"].hsetnx(starts, str(os.getpid()), repr(time.time()))


def _on_postrun(sender: Any = None, task: Any = None, **_: Any) -> None:
    done, _, ends = counter_keys(_queue_of(task or sender))
    pipe = _state["redis"].pipeline(transaction=False)
    pipe.hset(ends, str(os.getpid()), repr(time.time()))
    pipe.incr(done)
    pipe.execute()


@signals.worker_process_init.connect(weak=False)
def _pool_process_init(**_: Any) -> None:
    _state["redis"] = redis.Redis.from_url(os.environ["BENCH_COUNTER_URL"])
    # Connected last: after job_status's handlers and Celery's Django fix-up.
    signals.task_prerun.connect(_on_prerun, weak=False)
    signals.task_postrun.connect(_on_postrun, weak=False)
    folder = os.environ.get("BENCH_INSTRUMENT_DIR")
    if folder:
        Instrument(Path(folder), profile=os.environ.get("BENCH_PROFILE") == "1").install()


class Instrument:
    """Counts and times, per kind of job, what each job costs the pool process."""

    def __init__(self, folder: Path, profile: bool) -> None:
        self.folder = folder
        self.seen: set[str] = set()  # statement kinds run since the last connect
        self.profilers: dict[str, cProfile.Profile] | None = {} if profile else None
        self.stats: dict[str, dict[str, Any]] = defaultdict(
            lambda: {
                "jobs": 0,
                "trace_seconds": 0.0,
                "connects": 0,
                "connect_seconds": 0.0,
                "closes": 0,
                "close_seconds": 0.0,
                "commits": 0,
                "commit_seconds": 0.0,
                "statements": defaultdict(lambda: [0, 0.0]),
            }
        )

    def kind(self) -> str:
        return _state["kind"] or "outside a job"

    def install(self) -> None:
        """In a pool process: time every job, count its SQL; report when the process exits."""
        for name in ("fast_trace_task", "trace_task_ret"):
            setattr(trace, name, self.traced(getattr(trace, name)))
        self.count_sql()
        signals.worker_process_shutdown.connect(self.dump, weak=False)

    def count_sql(self) -> None:
        """Count and time connections, commits and statements (under the current kind)."""
        from django.db import connections
        from django.db.backends.signals import connection_created

        wrapper_class = type(connections["default"])
        self.timed(wrapper_class, "connect", "connect")
        self.timed(wrapper_class, "_close", "close")
        self.timed(wrapper_class, "_commit", "commit")
        connection_created.connect(self.on_connection_created, weak=False)

    def traced(self, function: Any) -> Any:
        """``function`` (how the pool process runs a job) timed, and profiled, per kind."""

        def run(name: str, *args: Any, **kwargs: Any) -> Any:
            kind = KIND_OF_TASK.get(name, name)
            _state["kind"] = kind
            profiler = None
            if self.profilers is not None:
                profiler = self.profilers.setdefault(kind, cProfile.Profile())
            started = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            try:
                return function(name, *args, **kwargs)
            finally:
                if profiler is not None:
                    profiler.disable()
                stats = self.stats[kind]
                stats["jobs"] += 1
                stats["trace_seconds"] += time.perf_counter() - started
                _state["kind"] = None

        return run

    def timed(self, cls: type, method: str, what: str) -> None:
        original = getattr(cls, method)
        instrument = self

        def wrapper(connection: Any, *args: Any, **kwargs: Any) -> Any:
            if what == "connect":
                instrument.seen.clear()  # a new server process: its caches are cold
            started = time.perf_counter()
            try:
                return original(connection, *args, **kwargs)
            finally:
                stats = instrument.stats[instrument.kind()]
                stats[f"{what}s"] += 1
                stats[f"{what}_seconds"] += time.perf_counter() - started

        setattr(cls, method, wrapper)

    def on_connection_created(self, connection: Any = None, **_: Any) -> None:
        # The wrapper object outlives its connections: add the counter once.
        if self.execute not in connection.execute_wrappers:
            connection.execute_wrappers.append(self.execute)

    def execute(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            kind = statement_kind(sql)
            if kind not in self.seen:
                # The first statement on a table after connecting also pays for
                # loading the table's and its indexes' descriptions (cold caches).
                self.seen.add(kind)
                kind += " (first on its connection)"
            entry = self.stats[self.kind()]["statements"][kind]
            entry[0] += 1
            entry[1] += time.perf_counter() - started

    def dump(self, **_: Any) -> None:
        pid = os.getpid()
        (self.folder / f"stats-{pid}.json").write_text(json.dumps(self.stats))
        for kind, profiler in (self.profilers or {}).items():
            profiler.dump_stats(str(self.folder / f"profile-{kind}-{pid}.prof"))


def statement_kind(sql: str) -> str:
    """``UPDATE job_status_jobstatus``, ``INSERT job_status_jobtransition``, ``SELECT ...``."""
    words = sql.replace('"', "").split()
    if not words:
        return "?"
    verb = words[0].upper()
    table = ""
    upper = [word.upper() for word in words]
    for keyword in ("INTO", "FROM") if verb in ("INSERT", "SELECT", "DELETE") else ():
        if keyword in upper:
            index = upper.index(keyword) + 1
            table = words[index] if index < len(words) else ""
            break
    if verb == "UPDATE" and len(words) > 1:
        table = words[1]
    return f"{verb} {table}".strip()
