"""A million job records on PostgreSQL: how fast each query of the API is, which
index its plan uses, and how fast pruning deletes the old half.

    python bench/million.py                    # 1,000,000 rows, about 7 minutes
    python bench/million.py --rows 100000      # a quick look
    python bench/million.py --keep             # leave the database for psql

It creates a database of its own (``job_status_bench_million``; dropped at the
end unless ``--keep``), migrates it, loads the rows with COPY, runs
``VACUUM ANALYZE``, then times every query (median of ``--runs`` runs, next to a
plain ``COUNT(*)`` of the table) and prints its ``EXPLAIN (ANALYZE, BUFFERS)``
plan. A selective query whose plan reads a whole table is flagged. Then it
tries the candidate indexes by hand (``CREATE INDEX``, never a migration) on the
queries they are meant for, and prunes: a dry run, the old half for real in
batches (rows/s), and a day's worth as a daily prune would, without and with
the candidate index. See bench/README-million.md.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import re
import statistics
import sys
import time
from bisect import bisect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from itertools import accumulate
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
TABLES = (
    "job_status_jobstatus",
    "job_status_jobtag",
    "job_status_jobtransition",
    "job_status_jobmessage",
    "job_status_jobsignal",
)

# -- the data ------------------------------------------------------------------------

# (task name, alias, weight, queue, tags): a few busy tasks and a long tail.
CATALOG: list[tuple[str, str, float, str, tuple[str, ...]]] = [
    ("app.mail.tasks.send_email", "", 30, "emails", ("user", "tenant")),
    ("app.media.tasks.make_thumbnail", "", 18, "media", ("user",)),
    ("app.sync.tasks.sync_crm", "crm-sync", 12, "default", ("tenant", "priority")),
    ("app.reports.tasks.build_report", "report", 10, "default", ("user", "tenant", "priority")),
    (
        "app.elections.tasks.export_results",
        "election-export",
        8,
        "exports",
        ("election", "tenant", "priority"),
    ),
    ("app.billing.tasks.charge", "billing", 6, "default", ("user", "tenant")),
    ("app.search.tasks.reindex", "search-reindex", 5, "default", ("tenant", "nightly")),
    ("app.elections.tasks.import_ballots", "election-import", 3, "imports", ("election", "tenant")),
    ("app.archive.tasks.vacuum_archive", "archive", 0.05, "default", ("nightly",)),
    ("app.audit.tasks.rebuild_audit_log", "audit-rebuild", 0.005, "default", ()),
] + [(f"app.misc.tasks.job_{n:02d}", "", 0.25, "default", ("tenant",)) for n in range(30)]

FAILURES = [
    ("builtins.ValueError", "invalid literal for int() with base 10: 'x'"),
    ("requests.exceptions.ConnectionError", "Max retries exceeded with url: /api/v2/sync"),
    ("celery.exceptions.TimeLimitExceeded", "TimeLimitExceeded(300,)"),
    ("job_status.WorkerLost", "Presumed lost: no worker reported on it for 3600 s."),
]

JOB_COLUMNS = (
    "id, task_id, job, alias, status, queue, attempts, status_is_provisional, queued_at, "
    "started_at, finished_at, exception_type, exception_message, progress, progress_current, "
    "progress_total, cancel_requested_at, arguments, parent_id, root_id, group_id, worker, "
    "time_limit, retry_of_task_id, dispatched_by_id, is_public"
)
TAG_COLUMNS = "id, job_status_id, key, value_type, string_value, number_value"


@dataclass
class Data:
    """What the queries look for: values known to exist, chosen while loading."""

    now: datetime
    jobs: int = 0
    tags: int = 0
    segments: dict[str, int] = field(default_factory=dict)
    group_id: str = ""
    task_id: str = ""
    election: int = 0


def _ts(moment: datetime | None) -> str:
    return "\\N" if moment is None else moment.isoformat()


def _text(value: object) -> str:
    return "\\N" if value is None else str(value)


def generate(rows: int, seed: int, now: datetime) -> Iterator[tuple[datetime, str]]:
    """(queued_at, segment) for every row: half finished over 30 days ago, 1% started
    now, the rest within the last 30 days (a few of those still queued)."""
    rng = random.Random(seed)
    old_start, old_end = now - 180 * DAY, now - 30 * DAY - 3600 * SECOND
    recent_start = now - 30 * DAY + 3600 * SECOND
    for n in range(rows):
        roll = n % 100
        if roll < 50:
            yield old_start + (old_end - old_start) * rng.random(), "old"
        elif roll < 51:
            yield now - rng.uniform(5, 1800) * SECOND, "running"
        elif roll < 52:
            yield now - rng.uniform(0, 900) * SECOND, "queued"
        else:
            yield recent_start + (now - 600 * SECOND - recent_start) * rng.random(), "recent"


@contextmanager
def bulk_loading(connection: Any) -> Iterator[None]:
    """Drop the foreign keys, unique constraints and secondary indexes, and create
    them again afterwards, exactly as migrated (what pg_restore does): building an
    index once is much faster than updating it a million times."""
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype "
            "FROM pg_constraint WHERE contype IN ('f', 'u') AND conrelid = ANY(%s::regclass[]) "
            "ORDER BY contype",  # foreign keys first
            [list(TABLES)],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i "
            "WHERE indrelid = ANY(%s::regclass[]) AND NOT indisprimary AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid "
            "AND c.contype IN ('p', 'u'))",
            [list(TABLES)],
        )
        indexes = cursor.fetchall()
        for table, name, _, _ in constraints:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
    yield
    started = time.perf_counter()
    slowest = []
    with connection.cursor() as cursor:
        statements = [definition for _, definition in indexes] + [
            f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
            for table, name, definition, _ in reversed(constraints)
        ]
        for statement in statements:
            one = time.perf_counter()
            cursor.execute(statement)
            slowest.append((time.perf_counter() - one, statement))
    for seconds, statement in sorted(slowest, reverse=True)[:3]:
        print(f"    {seconds:.1f} s: {short(statement, 120)}")
    print(
        f"  {len(indexes)} indexes, {len(constraints)} constraints created again "
        f"in {since(started)}"
    )


def load(connection: Any, rows: int, seed: int, now: datetime) -> Data:
    """COPY the jobs and their tags in; derive timelines, messages and signals in SQL."""
    rng = random.Random(seed + 1)
    uniform01 = rng.random
    names = list(CATALOG)
    name_weights = list(accumulate(entry[2] for entry in CATALOG))
    tenants = [f"tenant-{n:03d}" for n in range(1, 301)]
    tenant_weights = list(accumulate(1 / n for n in range(1, 301)))  # a few big, a long tail
    endings = ["succeeded", "failed", "cancelled"]
    ending_weights = list(accumulate([88, 9, 3]))
    priority_weights = list(accumulate([1, 2, 10, 20, 30, 20, 10, 4, 2, 1]))

    def pick(choices: Any, cum_weights: list[float]) -> Any:
        return choices[bisect(cum_weights, uniform01() * cum_weights[-1])]

    def new_id() -> str:
        digits = f"{rng.getrandbits(128):032x}"
        return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{digits[16:20]}-{digits[20:]}"

    data = Data(now=now)
    started = time.perf_counter()
    # Ids follow dispatch order, as they do in a real table.
    schedule = sorted(generate(rows, seed, now), key=lambda item: item[0])
    failed_ids: list[str] = []
    group = ""
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's own cursor, for COPY
        jobs, tags = io.StringIO(), io.StringIO()
        tag_id = 0
        for pk, (queued_at, segment) in enumerate(schedule, start=1):
            name, alias, _, queue, tag_keys = pick(names, name_weights)
            task_id = new_id()
            data.segments[segment] = data.segments.get(segment, 0) + 1
            started_at = finished_at = None
            exception_type = exception_message = ""
            progress: float | None = None
            attempts, provisional, worker, time_limit = 1, False, "", None
            if segment == "queued":
                status = "queued"
            elif segment == "running":
                status = "started"
                started_at = queued_at + rng.uniform(0.05, 3) * SECOND
                started_at = min(started_at, now)
                worker, progress = f"celery@worker-{rng.randrange(8)}", rng.uniform(0, 99)
            else:
                status = pick(endings, ending_weights)
                wait = rng.uniform(0.05, 5) * SECOND
                runtime = rng.lognormvariate(0.7, 1.2) * SECOND
                if status == "cancelled" and rng.random() < 0.5:
                    finished_at = queued_at + wait  # revoked before it started
                else:
                    started_at = queued_at + wait
                    finished_at = started_at + runtime
                    worker = f"celery@worker-{rng.randrange(8)}"
                if status == "succeeded":
                    progress = 100.0
                elif status == "failed":
                    exception_type, exception_message = rng.choice(FAILURES)
                    provisional = exception_type == "job_status.WorkerLost"
                    attempts = rng.choice([1, 1, 2, 3])
            if rng.random() < 0.2:
                time_limit = 300.0
            # 5% of jobs run in groups of ten, dispatched together.
            if pk % 200 == 1:
                group = new_id()
            group_id = group if pk % 200 <= 10 and pk % 200 != 0 else ""
            if group_id and status == "succeeded":
                data.group_id = group_id
            retry_of = None
            if failed_ids and rng.random() < 0.003:
                retry_of = failed_ids.pop(rng.randrange(len(failed_ids)))
            if status == "failed":
                failed_ids.append(task_id)
                del failed_ids[:-500]
            arguments = f'{{"args": [{rng.randrange(1, 100000)}], "kwargs": {{}}}}'
            jobs.write(
                "\t".join(
                    [
                        str(pk),
                        task_id,
                        name,
                        alias,
                        status,
                        queue,
                        str(attempts),
                        "t" if provisional else "f",
                        _ts(queued_at),
                        _ts(started_at),
                        _ts(finished_at),
                        exception_type,
                        exception_message,
                        _text(progress),
                        "\\N",
                        "\\N",
                        "\\N",
                        arguments,
                        "",
                        "",
                        group_id,
                        worker,
                        _text(time_limit),
                        _text(retry_of),
                        # 1,000 users dispatch four jobs in five; one in ten is public.
                        str(pk % 1000 + 1) if pk % 5 else "\\N",
                        "t" if pk % 10 == 3 else "f",
                    ]
                )
                + "\n"
            )
            for key in tag_keys:
                if key == "nightly":
                    if rng.random() < 0.5:
                        continue
                    value_type, string_value, number_value = "label", None, None
                elif key == "tenant":
                    value_type, number_value = "string", None
                    string_value = pick(tenants, tenant_weights)
                elif key == "user":
                    value_type, string_value = "number", None
                    number_value = float(rng.randrange(1, 100_001))
                elif key == "election":
                    value_type, string_value = "number", None
                    number_value = float(rng.randrange(1, 3001))
                    if segment == "recent":
                        data.election = int(number_value)
                else:  # priority: mostly middling, rarely urgent
                    value_type, string_value = "number", None
                    number_value = float(pick(range(10), priority_weights))
                tag_id += 1
                tags.write(
                    f"{tag_id}\t{pk}\t{key}\t{value_type}\t{_text(string_value)}\t"
                    f"{_text(number_value)}\n"
                )
            if segment == "recent" and alias == "election-export":
                data.task_id = task_id
            if pk % 100_000 == 0 or pk == len(schedule):
                with raw.copy(f"COPY job_status_jobstatus ({JOB_COLUMNS}) FROM STDIN") as copy:
                    copy.write(jobs.getvalue())
                with raw.copy(f"COPY job_status_jobtag ({TAG_COLUMNS}) FROM STDIN") as copy:
                    copy.write(tags.getvalue())
                jobs, tags = io.StringIO(), io.StringIO()
        data.jobs, data.tags = len(schedule), tag_id
        for table in ("job_status_jobstatus", "job_status_jobtag"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        print(f"  {data.jobs:,} jobs and {data.tags:,} tags copied in {since(started)}")
        started = time.perf_counter()
        # Every job's timeline: queued, started if it did, and how it ended.
        cursor.execute(
            """
            INSERT INTO job_status_jobtransition
                (task_id, event, attempt, at, exception_type, exception_message, traceback, note)
            SELECT task_id, 'queued', 1, queued_at, '', '', '', '' FROM job_status_jobstatus
            UNION ALL
            SELECT task_id, 'started', attempts, started_at, '', '', '', ''
              FROM job_status_jobstatus WHERE started_at IS NOT NULL
            UNION ALL
            SELECT task_id, status, attempts, finished_at, exception_type, exception_message,
                   CASE WHEN status = 'failed' THEN repeat('Traceback line ', 40) ELSE '' END, ''
              FROM job_status_jobstatus WHERE finished_at IS NOT NULL
            """
        )
        transitions = cursor.rowcount
        # Jobs that report as they go leave messages; a few were sent signals.
        cursor.execute(
            """
            INSERT INTO job_status_jobmessage (task_id, level, text, created_at)
            SELECT task_id, 'info', 'step ' || step || ' of 3', queued_at + step * interval '1 s'
              FROM job_status_jobstatus, generate_series(1, 3) AS step
             WHERE alias IN ('search-reindex', 'election-import')
            """
        )
        messages = cursor.rowcount
        cursor.execute(
            """
            INSERT INTO job_status_jobsignal (task_id, name, parameters, sent_at, handled_at)
            SELECT task_id, 'bump', '{"by": 1}', queued_at, started_at
              FROM job_status_jobstatus WHERE id % 1000 = 7
            """
        )
        signals = cursor.rowcount
        print(
            f"  {transitions:,} timeline entries, {messages:,} messages, {signals:,} signals "
            f"derived in {since(started)}"
        )
    return data


# -- measuring -------------------------------------------------------------------------


@dataclass
class Result:
    label: str
    median: float  # seconds
    rows: str
    indexes: list[str]
    seq_scans: list[str]
    selective: bool
    phase: str = "as migrated"
    removed: int = 0  # rows its plan read and threw away (Rows Removed by Filter)

    @property
    def flagged(self) -> bool:
        """Selective, yet it reads a whole table, or most of one through an index."""
        return self.selective and (bool(self.seq_scans) or self.removed >= WASTE[0])


RESULTS: list[Result] = []
INDEX_RE = re.compile(
    r"(?:Index(?: Only)? Scan(?: Backward)? using (\w+)|Bitmap Index Scan on (\w+))"
)
SEQ_RE = re.compile(r"Seq Scan on (\w+)")
REMOVED_RE = re.compile(r"Rows Removed by (?:Filter|Index Recheck): (\d+)")
WASTE = [10_000]  # rows thrown away that flag a selective query; set from --rows


def since(started: float) -> str:
    return f"{time.perf_counter() - started:.1f} s"


def short(line: str, width: int = 160) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"


def explain(connection: Any, sql: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return [row[0] for row in cursor.fetchall()]


def plan_summary(plan: list[str]) -> tuple[list[str], list[str], int]:
    """The indexes a plan uses, the tables it reads whole, and the rows it throws away."""
    text = "\n".join(plan)
    indexes = [a or b for a, b in INDEX_RE.findall(text)]
    seq_scans = SEQ_RE.findall(text)
    removed = sum(int(n) for n in REMOVED_RE.findall(text))
    return list(dict.fromkeys(indexes)), list(dict.fromkeys(seq_scans)), removed


def captured(connection: Any, action: Callable[[], Any]) -> tuple[Any, list[str]]:
    """Run ``action`` once; its result and the SELECTs it sent."""
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        result = action()
    sqls = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().startswith("SELECT")]
    return result, sqls


def median_time(action: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def describe(result: Any) -> str:
    if isinstance(result, list):
        return f"{len(result)} rows"
    if result is None:
        return "None"
    if hasattr(result, "task_id"):
        return "1 row"
    text = str(result)
    return text if len(text) <= 60 else text[:57] + "..."


def measure(
    connection: Any,
    label: str,
    action: Callable[[], Any],
    *,
    runs: int,
    selective: bool,
    baseline: float,
    phase: str = "as migrated",
) -> Result:
    result, sqls = captured(connection, action)  # also warms the cache
    median = median_time(action, runs)
    print(f"\n### {label}")
    print(
        f"    {median * 1000:.2f} ms median of {runs} (COUNT(*) of the table: "
        f"{baseline * 1000:.1f} ms); result: {describe(result)}"
    )
    plans = []
    for sql in sqls:
        print(f"    SQL: {short(sql, 400)}")
        plans.append(explain(connection, sql))
        for line in plans[-1]:
            print(f"      {short(line)}")
    return add_result(label, median, describe(result), plans, selective, phase)


def add_result(
    label: str, seconds: float, rows: str, plans: list[list[str]], selective: bool, phase: str
) -> Result:
    summaries = [plan_summary(plan) for plan in plans]
    entry = Result(
        label,
        seconds,
        rows,
        list(dict.fromkeys(index for found, _, _ in summaries for index in found)),
        list(dict.fromkeys(table for _, seqs, _ in summaries for table in seqs)),
        selective,
        phase,
        sum(removed for _, _, removed in summaries),
    )
    if entry.flagged:
        whole = f"reads {', '.join(entry.seq_scans)} whole; " if entry.seq_scans else ""
        print(f"    !! selective, but it {whole}throws {entry.removed:,} rows away")
    RESULTS.append(entry)
    return entry


# -- the queries ----------------------------------------------------------------------------


def queries(data: Data) -> list[tuple[str, Callable[[], Any], bool]]:
    """(label, action, selective) for every query of the API."""
    from job_status.models import JobStatus

    objects = JobStatus.objects
    upper_id = data.task_id.upper().replace("-", "")
    return [
        ("where_status('queued')[:100]", lambda: list(objects.where_status("queued")[:100]), True),
        ("where_status('queued').count()", lambda: objects.where_status("queued").count(), True),
        (
            "where_status('started')[:100]",
            lambda: list(objects.where_status("started")[:100]),
            True,
        ),
        ("where_status('started').count()", lambda: objects.where_status("started").count(), True),
        (
            f"where_tag('election', {data.election})[:100]",
            lambda: list(objects.where_tag("election", data.election)[:100]),
            True,
        ),
        (
            f"where_tag('election', {data.election}).count()",
            lambda: objects.where_tag("election", data.election).count(),
            True,
        ),
        (
            "where_tag('tenant', 'tenant-150')[:100]",
            lambda: list(objects.where_tag("tenant", "tenant-150")[:100]),
            True,
        ),
        (
            "where_tag('priority', '<', 1)[:100]",
            lambda: list(objects.where_tag("priority", "<", 1)[:100]),
            True,
        ),
        (
            "where_tag('priority', '<', 1).count()",
            lambda: objects.where_tag("priority", "<", 1).count(),
            True,
        ),
        (
            "where_tag('user', '<', 50).count()",
            lambda: objects.where_tag("user", "<", 50).count(),
            True,
        ),
        ("where_tag('nightly').count()", lambda: objects.where_tag("nightly").count(), False),
        (
            f"for_job_alias('election-export').where_tag('election', {data.election}).first()",
            lambda: (
                objects.for_job_alias("election-export")
                .where_tag("election", data.election)
                .first()
            ),
            True,
        ),
        (
            "for_job_alias('election-export').first()",
            lambda: objects.for_job_alias("election-export").first(),
            True,
        ),
        (
            "for_job_alias('audit-rebuild').first()",
            lambda: objects.for_job_alias("audit-rebuild").first(),
            True,
        ),
        (
            "for_job('app.mail.tasks.send_email').first()",
            lambda: objects.for_job("app.mail.tasks.send_email").first(),
            True,
        ),
        (
            "for_job('app.audit.tasks.rebuild_audit_log').first()",
            lambda: objects.for_job("app.audit.tasks.rebuild_audit_log").first(),
            True,
        ),
        (
            "for_job('app.mail.tasks.send_email').where_failed()[:20]",
            lambda: list(objects.for_job("app.mail.tasks.send_email").where_failed()[:20]),
            True,
        ),
        ("JobStatus.objects.first()", lambda: objects.first(), True),
        ("all().counts()", lambda: objects.all().counts(), False),
        (
            "for_job_alias('election-export').counts()",
            lambda: objects.for_job_alias("election-export").counts(),
            False,
        ),
        (
            f"for_job_alias('election-export').where_tag('election', {data.election}).counts()",
            lambda: (
                objects.for_job_alias("election-export")
                .where_tag("election", data.election)
                .counts()
            ),
            True,
        ),
        ("for_batch(group).counts()", lambda: objects.for_batch(data.group_id).counts(), True),
        ("count_finished()", lambda: objects.count_finished(), False),
        ("count_successful()", lambda: objects.count_successful(), False),
        ("count_running()", lambda: objects.count_running(), True),
        ("count_not_finished()", lambda: objects.count_not_finished(), True),
        (
            "for_job_alias('audit-rebuild').count_finished()",
            lambda: objects.for_job_alias("audit-rebuild").count_finished(),
            True,
        ),
        ("for_batch(group) list", lambda: list(objects.for_batch(data.group_id)), True),
        ("get_by_task_id(id)", lambda: objects.get_by_task_id(data.task_id), True),
        (
            "get_by_task_id(ID WITHOUT DASHES)",
            lambda: objects.get_by_task_id(upper_id),
            True,
        ),
    ]


# Indexes to try by hand: (name, CREATE INDEX, labels of the queries it is for).
# The prune's index is tried apart, on the prune (see main).
CANDIDATES: list[tuple[str, str, tuple[str, ...]]] = [
    (
        "job_status_alias_status_idx",
        "CREATE INDEX job_status_alias_status_idx ON job_status_jobstatus (alias, status)",
        (
            "for_job_alias('election-export').counts()",
            "for_job_alias('audit-rebuild').count_finished()",
        ),
    ),
]
PRUNE_INDEX = (
    "job_status_finished_idx",
    "CREATE INDEX job_status_finished_idx ON job_status_jobstatus (finished_at) "
    "WHERE status IN ('succeeded', 'failed', 'cancelled')",
)


def create_index(connection: Any, name: str, sql: str) -> None:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql)
        cursor.execute("ANALYZE job_status_jobstatus")
    print(f"\n### CREATE INDEX by hand ({since(started)}): {sql}")


def drop_index(connection: Any, name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX {name}")
        cursor.execute("ANALYZE job_status_jobstatus")
    print(f"\n### DROP INDEX {name}")


# -- pruning ----------------------------------------------------------------------------------

PRUNABLE = ["succeeded", "failed", "cancelled"]


def explain_one_batch(connection: Any, cutoff: datetime, phase: str) -> None:
    """The plans of one batch's statements, run inside a transaction rolled back."""
    from django.db import transaction
    from django.test.utils import CaptureQueriesContext

    from job_status.models import JobStatus
    from job_status.pruning import _delete, _lock_batch

    candidates = JobStatus.objects.filter(status__in=PRUNABLE, finished_at__lt=cutoff)
    print(
        f"\n### prune: the statements of one batch of 1000, EXPLAIN ANALYZE, rolled back [{phase}]"
    )
    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries:
            rows = _lock_batch(candidates, 1000, "default")
            _delete(JobStatus.objects.filter(pk__in=[pk for pk, _ in rows]))
        transaction.set_rollback(True)
    statements = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith(("SELECT", "DELETE", "UPDATE"))
    ]
    deletes = [sql for sql in statements if sql.startswith('DELETE FROM "job_status_jobstatus"')]
    with transaction.atomic():
        for sql in statements:
            if sql in deletes[1:]:
                explain(connection, sql)  # Django deletes the rows 100 at a time: show one
                continue
            print(f"    SQL: {short(sql, 200)}")
            plan = explain(connection, sql)
            for line in plan:
                print(f"      {short(line)}")
            if sql.startswith("SELECT") and "FOR UPDATE" in sql:
                add_result("prune: a batch's selection", plan_time(plan), "", [plan], True, phase)
            elif plan_summary(plan)[1]:
                print(f"    (reads a whole table: {', '.join(plan_summary(plan)[1])})")
        transaction.set_rollback(True)
    if len(deletes) > 1:
        print(f"    ({len(deletes) - 1} more DELETEs of 100 jobs each, like the last one)")


def plan_time(plan: list[str]) -> float:
    """The execution time an EXPLAIN ANALYZE reports, in seconds."""
    for line in plan:
        if line.startswith("Execution Time:"):
            return float(line.split()[2]) / 1000
    return float("nan")


def timed_batches(connection: Any, cutoff: datetime, count: int) -> None:
    """A few real batches, timed by phase: where does a batch's time go?"""
    from django.db import transaction
    from django.test.utils import CaptureQueriesContext

    from job_status.models import JobStatus
    from job_status.pruning import _delete, _lock_batch

    candidates = JobStatus.objects.filter(status__in=PRUNABLE, finished_at__lt=cutoff)
    print(f"\n### prune: {count} real batches of 1000, timed by phase")
    for _ in range(count):
        started = time.perf_counter()
        with transaction.atomic():
            rows = _lock_batch(candidates, 1000, "default")
            chosen = time.perf_counter()
            with CaptureQueriesContext(connection) as queries:
                _delete(JobStatus.objects.filter(pk__in=[pk for pk, _ in rows]))
            deleted = time.perf_counter()
        done = time.perf_counter()
        in_sql = sum(float(q["time"]) for q in queries.captured_queries)
        print(
            f"    choose and lock {(chosen - started) * 1000:.0f} ms; cascades and delete "
            f"{(deleted - chosen) * 1000:.0f} ms ({len(queries)} statements: "
            f"{in_sql * 1000:.0f} ms in the database, the rest in Django); COMMIT "
            f"{(done - deleted) * 1000:.0f} ms (the deferred foreign-key checks: five per job)"
        )


def big_prune(connection: Any, data: Data, days: int, phase: str) -> int:
    """Prune everything finished more than ``days`` ago, for real, and time it."""
    from job_status.pruning import PrunedBatch, prune

    print(f"\n### prune(older_than={days} days), for real, in batches of 1000 [{phase}]")
    marks: list[float] = []
    started = time.perf_counter()

    def tick(batch: PrunedBatch) -> None:
        marks.append(time.perf_counter())

    report = prune(older_than=days * DAY, now=data.now, on_batch=tick)
    elapsed = time.perf_counter() - started
    gaps = [b - a for a, b in zip([started, *marks], marks, strict=False)]
    related = sum(report.related.values())
    kinds = ", ".join(f"{n:,} {label[11:]}" for label, n in sorted(report.related.items()))
    speed = f"{len(report) / elapsed:,.0f} jobs/s, {(len(report) + related) / elapsed:,.0f} rows/s"
    print(
        f"    {len(report):,} jobs and {related:,} related rows ({kinds})"
        f" in {elapsed:.1f} s, {report.batches} batches: {speed}"
    )
    if gaps:
        tenth = max(1, len(gaps) // 10)
        print(
            f"    batch time: median {statistics.median(gaps) * 1000:.0f} ms, "
            f"first tenth {statistics.median(gaps[:tenth]) * 1000:.0f} ms, "
            f"last tenth {statistics.median(gaps[-tenth:]) * 1000:.0f} ms, "
            f"max {max(gaps) * 1000:.0f} ms"
        )
    RESULTS.append(
        Result(
            f"prune older than {days} d ({len(report):,} jobs; {speed})",
            elapsed,
            f"{len(report):,} deleted",
            [],
            [],
            False,
            phase,
        )
    )
    return len(report)


def job_count(connection: Any) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM job_status_jobstatus")
        return int(cursor.fetchone()[0])


def steady_prune(connection: Any, data: Data, days: int, phase: str, baseline: float) -> None:
    """A daily prune: the day that has just passed the age, then the query that finds
    nothing more (the last batch's), which reads what is left of the table; and the
    dry run of the next day."""
    from django.db import transaction
    from django.test.utils import CaptureQueriesContext

    from job_status.pruning import prune

    age = days * DAY
    with transaction.atomic():
        with CaptureQueriesContext(connection) as dry_queries:
            prune(older_than=age, now=data.now, dry_run=True)
        transaction.set_rollback(True)
    measure_sql(
        connection,
        f"prune dry run (older_than={days} days)",
        dry_queries[-1]["sql"],
        phase,
        baseline,
    )
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        report = prune(older_than=age, now=data.now)
    elapsed = time.perf_counter() - started
    label = f"daily prune (older_than={days} days: {len(report):,} jobs)"
    print(f"\n### {label} [{phase}]")
    print(f"    {elapsed * 1000:.0f} ms, {report.batches} batch(es)")
    selections = [q for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    for query in selections:
        print(f"    selection: {float(query['time']) * 1000:.1f} ms")
    last = selections[-1]["sql"]
    print(f"    EXPLAIN ANALYZE of the last (empty) selection: {short(last, 300)}")
    with transaction.atomic():
        plan = explain(connection, last)
        transaction.set_rollback(True)
    for line in plan:
        print(f"      {short(line)}")
    RESULTS.append(Result(label, elapsed, f"{len(report):,} deleted", [], [], False, phase))
    add_result("daily prune: its last, empty selection", plan_time(plan), "", [plan], True, phase)


def measure_sql(
    connection: Any, label: str, sql: str, phase: str, baseline: float, selective: bool = True
) -> None:
    def run() -> Any:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()

    result = run()
    median = median_time(run, 3)
    print(f"\n### {label} [{phase}]")
    print(f"    {median * 1000:.2f} ms median of 3; result: {result}")
    plan = explain(connection, sql)
    for line in plan:
        print(f"      {short(line)}")
    add_result(label, median, str(result), [plan], selective, phase)


COUNT_PK = 'COUNT("job_status_jobstatus"."id")'


def counts_by_star(
    connection: Any, label: str, action: Callable[[], Any], phase: str, baseline: float
) -> None:
    """``counts()`` as it would be with ``COUNT(*)`` instead of ``COUNT(id)``: the same
    numbers (the key is never NULL), but a plan that needs no column besides ``status``
    and the filter's may read an index alone. (A change to query.py, tried here in SQL.)"""
    _, sqls = captured(connection, action)
    sql = sqls[0].replace(COUNT_PK, "COUNT(*)")
    measure_sql(connection, f"{label} with COUNT(*)", sql, phase, baseline, selective=False)


# -- the database ---------------------------------------------------------------------------


@contextmanager
def database(url: str, name: str, keep: bool) -> Iterator[None]:
    import psycopg

    admin = psycopg.connect(url, autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield
    finally:
        from django.db import connections

        connections.close_all()
        if keep:
            print(f"\nKept the database {name!r}.")
        else:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def configure(url: str, name: str) -> None:
    import django
    from django.conf import settings

    parts = urlsplit(url)
    settings.configure(
        SECRET_KEY="bench",
        USE_TZ=True,
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "job_status",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        ROOT_URLCONF="million_urls",
        ALLOWED_HOSTS=["testserver"],
        TEMPLATES=[
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
        ],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "HOST": parts.hostname or "127.0.0.1",
                "PORT": str(parts.port or 5432),
                "USER": parts.username or "postgres",
                "PASSWORD": parts.password or "",
                "NAME": name,
            }
        },
    )
    django.setup()


def vacuum(connection: Any) -> None:
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")


def sizes(connection: Any) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, pg_size_pretty(pg_table_size(oid)), "
            "pg_size_pretty(pg_indexes_size(oid)) FROM pg_class WHERE relname = ANY(%s) "
            "ORDER BY relname",
            [list(TABLES)],
        )
        return "; ".join(f"{t} {d} (+{i} indexes)" for t, d, i in cursor.fetchall())


def server(connection: Any) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('server_version'), current_setting('shared_buffers'), "
            "current_setting('work_mem'), current_setting('random_page_cost'), "
            "current_setting('max_parallel_workers_per_gather')"
        )
        version, buffers, work_mem, page_cost, parallel = cursor.fetchone()
    return (
        f"PostgreSQL {version}, shared_buffers={buffers}, work_mem={work_mem}, "
        f"random_page_cost={page_cost}, max_parallel_workers_per_gather={parallel}"
    )


def count_star(connection: Any, runs: int) -> float:
    def run() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM job_status_jobstatus")
            cursor.fetchone()

    run()
    return median_time(run, runs)


PAGES: list[tuple[str, float, int]] = []


def pages(data: Data, runs: int, baseline: float) -> None:
    """The admin's list and detail and the JSON API, rendered whole by Django's test
    client (no browser): time and queries of each page."""
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client

    from job_status.models import JobStatus

    staff = User.objects.create_superuser("bench-admin", password="x")
    user = User.objects.create_user("bench-user", password="x")
    JobStatus.objects.filter(pk__lte=2000).update(dispatched_by=user)
    job = JobStatus.objects.get(task_id=data.task_id)
    admin, user_client = Client(), Client()
    admin.force_login(staff)
    user_client.force_login(user)
    listing = "/admin/job_status/jobstatus/"
    urls = [
        ("admin list", admin, listing),
        ("admin list, page 50", admin, listing + "?p=50"),
        ("admin list, status=started", admin, listing + "?status__exact=started"),
        ("admin list, alias filter", admin, listing + "?alias=election-export"),
        ("admin list, tag filter", admin, listing + f"?tag=election={data.election}"),
        ("admin list, task id search", admin, listing + f"?q={data.task_id}"),
        ("admin detail", admin, f"{listing}{job.pk}/change/"),
        ("API list, a user's own and public jobs", user_client, "/api/jobs/"),
        ("API list, staff with view permission", admin, "/api/jobs/?status=failed"),
    ]
    print("\n" + "=" * 100)
    print("Pages (Django's test client, whole response; median of runs)")
    for label, client, url in urls:
        response = client.get(url)  # warm
        assert response.status_code == 200, (url, response.status_code)
        captured: list[str] = []

        def count(execute: Any, sql: str, *rest: Any, into: list[str] = captured) -> Any:
            into.append(sql)
            return execute(sql, *rest)

        with connection.execute_wrapper(count):
            client.get(url)
        median = median_time(lambda client=client, url=url: client.get(url), runs)
        PAGES.append((label, median, len(captured)))
        print(
            f"  {label:<45} {median * 1000:>8.1f} ms  {median / baseline:>5.2f}x COUNT(*)"
            f"  {len(captured)} queries"
        )


def summary(baseline: float) -> None:
    print("\n" + "=" * 100)
    print(f"Summary (COUNT(*) of the table: {baseline * 1000:.1f} ms)")
    header = f"{'query':<72} {'phase':<14} {'ms':>9} {'/COUNT':>7}  plan (indexes used)"
    print(header)
    print("-" * len(header))
    for label, median, queries_run in PAGES:
        print(
            f"{'page: ' + label:<72} {'':<14} {median * 1000:>9.2f} {median / baseline:>7.2f}  "
            f"{queries_run} queries"
        )
    for r in RESULTS:
        plan = ", ".join(i.removeprefix("job_status_") for i in r.indexes) or "-"
        if r.seq_scans:
            plan += " | seq: " + ", ".join(t.removeprefix("job_status_") for t in r.seq_scans)
        if r.removed >= WASTE[0]:
            plan += f" | {r.removed:,} rows filtered out"
        flag = "  !! NO INDEX" if r.flagged else ""
        print(
            f"{short(r.label, 72):<72} {r.phase:<14} {r.median * 1000:>9.2f} "
            f"{r.median / baseline:>7.2f}  {plan}{flag}"
        )


def index_usage(connection: Any) -> None:
    """Every index of the app's tables: its size and how often this run used it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, indexrelname, idx_scan, pg_relation_size(indexrelid) "
            "FROM pg_stat_user_indexes WHERE relname = ANY(%s) ORDER BY relname, indexrelname",
            [list(TABLES)],
        )
        rows = cursor.fetchall()
    print("\nIndexes: scans during the run (queries and prunes; the load is not counted), size")
    for table, index, scans, size in rows:
        print(f"  {table:<26} {index:<58} {scans:>9,} scans {size / 2**20:>8.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per query (median)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--url",
        default=os.environ.get(
            "JOB_STATUS_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a server's maintenance database, to create and drop the bench's own",
    )
    parser.add_argument("--database", default="job_status_bench_million")
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    args = parser.parse_args()

    total = time.perf_counter()
    WASTE[0] = max(10_000, args.rows // 20)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    with database(args.url, args.database, args.keep):
        configure(args.url, args.database)
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        print(server(connection))
        print(f"Loading {args.rows:,} jobs into {args.database!r}")
        with bulk_loading(connection):
            data = load(connection, args.rows, args.seed, now)
        print(f"  segments: {data.segments}")
        started = time.perf_counter()
        vacuum(connection)
        print(f"  VACUUM ANALYZE in {since(started)}; {sizes(connection)}")
        baseline = count_star(connection, args.runs)
        print(f"COUNT(*) of the table: {baseline * 1000:.1f} ms (median of {args.runs})")
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_reset()")

        for label, action, selective in queries(data):
            measure(
                connection, label, action, runs=args.runs, selective=selective, baseline=baseline
            )
        from job_status.models import JobStatus

        alias_counts = JobStatus.objects.for_job_alias("election-export").counts
        everything_counts = JobStatus.objects.all().counts
        counts_by_star(connection, "all().counts()", everything_counts, "as migrated", baseline)
        for name, sql, labels in CANDIDATES:
            create_index(connection, name, sql)
            phase = f"+{name.removeprefix('job_status_')}"
            for label, action, selective in queries(data):
                if label in labels:
                    measure(
                        connection,
                        label,
                        action,
                        runs=args.runs,
                        selective=selective,
                        baseline=baseline,
                        phase=phase,
                    )
            label = "for_job_alias('election-export').counts()"
            counts_by_star(connection, label, alias_counts, phase, baseline)
            drop_index(connection, name)

        pages(data, args.runs, baseline)

        from job_status.pruning import prune

        month = 30 * DAY
        measure(
            connection,
            "prune(older_than=30 days, dry_run=True)",
            lambda: prune(older_than=month, dry_run=True, now=data.now),
            runs=3,
            selective=False,
            baseline=baseline,
        )
        explain_one_batch(connection, data.now - month, "as migrated")
        timed_batches(connection, data.now - month, 3)
        # The old half, in two steps: the older part as migrated, the rest with the
        # candidate index, to see that it does not slow a big prune down.
        pruned = 3000 + big_prune(connection, data, 105, "as migrated")
        create_index(connection, *PRUNE_INDEX)
        explain_one_batch(connection, data.now - month, "+finished_idx")
        pruned += big_prune(connection, data, 30, "+finished_idx")
        drop_index(connection, PRUNE_INDEX[0])
        print(f"\nPruned {pruned:,} jobs in all; {job_count(connection):,} left. VACUUM ANALYZE")
        vacuum(connection)
        # A daily prune, once the table holds only the last 30 days.
        steady_prune(connection, data, 29, "as migrated", baseline)
        create_index(connection, *PRUNE_INDEX)
        steady_prune(connection, data, 28, "+finished_idx", baseline)
        summary(baseline)
        # A backend reports its statistics when idle, at most once a second.
        time.sleep(1.1)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        time.sleep(0.2)
        index_usage(connection)
    print(f"\nTotal {since(total)}")


if __name__ == "__main__":
    main()
