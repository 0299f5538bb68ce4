"""Status writes as one SQL statement each, on PostgreSQL.

A status write changes the job's row and adds its timeline entry (and, for a
first dispatch, inserts its tags). Through the ORM that is a transaction of
four round trips (``BEGIN``, the row, the entry, ``COMMIT``), and building
each statement costs more than the database's work on it (see
``docs/performance.md``). PostgreSQL runs data-modifying ``WITH`` clauses as
part of one statement, so here the whole write is one statement in
autocommit: atomic, one round trip, one commit.

The statements are still built by Django's compilers from model instances
and querysets, so every field is prepared for the database exactly as the
ORM would (JSON, time zones); only the glue between them is written here.
Other databases, and writes inside an open transaction (where a failed
statement would abort the caller's work), take the ORM's path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model, QuerySet
from django.db.models.sql import InsertQuery, UpdateQuery

from job_status.models import JobStatus, JobTag, JobTransition

# More tags than this take the ORM's path, which inserts them in batches: one
# statement has at most 65,535 parameters, and a dispatch this big is rare.
MAX_TAGS = 1000


def available(connection: BaseDatabaseWrapper) -> bool:
    """Whether this connection takes single-statement writes."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def _insert(objs: Sequence[Model], connection: BaseDatabaseWrapper) -> tuple[str, list[Any]]:
    model = type(objs[0])
    fields = [field for field in model._meta.local_concrete_fields if not field.primary_key]
    query = InsertQuery(model)
    query.insert_values(fields, list(objs))
    statements = query.get_compiler(connection=connection).as_sql()
    # PostgreSQL inserts many rows with one VALUES list: one statement.
    assert len(statements) == 1, statements
    sql, params = statements[0]
    return sql, list(params)


def _insert_from(
    objs: Sequence[Model],
    source: str,
    connection: BaseDatabaseWrapper,
    taken: Mapping[str, str] | None = None,
) -> tuple[str, list[Any]]:
    """``INSERT ... SELECT`` of ``objs``' values, once per row of ``source`` (so
    none if it is empty); the columns named in ``taken`` get the value of
    ``source``'s column instead (a key that is only known once ``source`` ran).
    The values form one ``VALUES`` list (a ``UNION ALL`` of one ``SELECT`` per
    row took PostgreSQL seconds to plan for a thousand tags). Each value is cast
    to its column's type, which a ``VALUES`` list does not infer."""
    taken = taken or {}
    model = type(objs[0])
    fields = [field for field in model._meta.local_concrete_fields if not field.primary_key]
    given = [field for field in fields if field.column not in taken]
    quote = connection.ops.quote_name
    rows, params = [], []
    for obj in objs:
        rows.append(", ".join(f"CAST(%s AS {field.db_type(connection)})" for field in given))
        params += [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in given]
    names = {field.column: f"v{index}" for index, field in enumerate(given)}
    selected = ", ".join(
        f"{source}.{quote(taken[field.column])}"
        if field.column in taken
        else f"given.{names[field.column]}"
        for field in fields
    )
    values = ", ".join(f"({row})" for row in rows)
    columns = ", ".join(quote(field.column) for field in fields)
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) SELECT {selected} "
        f"FROM {source} CROSS JOIN (VALUES {values}) AS given ({', '.join(names.values())})",
        params,
    )


def _update(
    rows: QuerySet[JobStatus], fields: Mapping[str, Any], connection: BaseDatabaseWrapper
) -> tuple[str, list[Any]]:
    query = rows.query.chain(UpdateQuery)
    assert isinstance(query, UpdateQuery)
    query.add_update_values(dict(fields))
    sql, params = query.get_compiler(connection=connection).as_sql()
    return sql, list(params)


def insert_job(
    job: JobStatus,
    tags: Sequence[JobTag],
    entry: JobTransition,
    connection: BaseDatabaseWrapper,
) -> None:
    """Insert the job's row, its tags and its timeline entry, and set ``job``'s
    primary key; raises ``IntegrityError`` (and changes nothing) if the row exists."""
    quote = connection.ops.quote_name
    job_sql, params = _insert([job], connection)
    job_key = JobStatus._meta.pk.column
    clauses = [f"job AS ({job_sql} RETURNING {quote(job_key)})"]
    if tags:
        # A tag points at the job's own key, which the insert above returns.
        tag_column = JobTag._meta.get_field("job_status").column
        tags_sql, tags_params = _insert_from(tags, "job", connection, {tag_column: job_key})
        clauses.append(f"tags AS ({tags_sql})")
        params += tags_params
    # The timeline points at the task id, known already; foreign keys are
    # checked at the end of the statement (Django makes them deferred), when
    # the job's row is there.
    entry_sql, entry_params = _insert([entry], connection)
    clauses.append(f"entry AS ({entry_sql})")
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH {', '.join(clauses)} SELECT {quote(job_key)} FROM job", params + entry_params
        )
        (job.pk,) = cursor.fetchone()
    job._state.adding = False
    job._state.db = connection.alias


def update_job(
    rows: QuerySet[JobStatus],
    fields: Mapping[str, Any],
    entry: JobTransition,
    connection: BaseDatabaseWrapper,
) -> bool:
    """Update ``rows`` (one job's row, filtered by what may be replaced) with
    ``fields`` and, if that changed the row, add ``entry`` to its timeline;
    ``True`` if it did."""
    try:
        update_sql, update_params = _update(rows, fields, connection)
    except EmptyResultSet:
        return False  # the filter can match no row (``QuerySet.update()`` says 0 too)
    if not update_sql:
        return False
    insert_sql, insert_params = _insert_from([entry], "updated", connection)
    sql = f"WITH updated AS ({update_sql} RETURNING 1) {insert_sql}"
    with connection.cursor() as cursor:
        cursor.execute(sql, update_params + insert_params)
        return bool(cursor.rowcount)
