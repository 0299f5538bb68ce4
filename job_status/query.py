"""Chainable queries over job statuses: the seed page's API, in Python."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from django.db import models
from django.db.models import Count, Exists, OuterRef, Q

from job_status.laravel import LaravelQuerySetAliases
from job_status.statuses import (
    FINISHED,
    NOT_FINISHED,
    RUNNING,
    SUCCESSFUL,
    Status,
    parse_statuses,
)
from job_status.tags import BOOLEAN, LABEL, STRING, store_value
from job_status.text import unstorable_reason

if TYPE_CHECKING:
    from job_status.collection import JobStatusCollection
    from job_status.models import JobStatus

_T = TypeVar("_T", bound=models.Model)

TAG_OPERATORS: dict[str, str] = {
    "=": "exact",
    "!=": "exact",  # negated below
    "<": "lt",
    "<=": "lte",
    ">": "gt",
    ">=": "gte",
}

_MISSING: Any = object()


class _HasName(Protocol):
    name: str


StatusArgument = str | Status | Iterable[str | Status]


@dataclass(frozen=True)
class JobCounts:
    """The seed's four counts, taken together."""

    finished: int
    successful: int
    running: int
    not_finished: int


def job_name(job: str | _HasName) -> str:
    """The dotted name of a task object, or the name itself."""
    if isinstance(job, str):
        return job
    name = getattr(job, "name", None)
    if not isinstance(name, str):
        raise TypeError(
            f"for_job() takes a task or its dotted name, got {type(job).__name__} without a name."
        )
    return name


def _tag_condition(key: str, operator: str, value: object) -> Q:
    """The condition on one tag row for ``key <operator> value``, type-aware."""
    lookup = TAG_OPERATORS.get(operator)
    if lookup is None:
        choices = ", ".join(repr(op) for op in TAG_OPERATORS)
        raise ValueError(f"Unknown tag operator {operator!r}; expected one of {choices}.")
    stored = store_value(key, value)
    if stored.value_type == LABEL:
        raise ValueError(
            f"where_tag({key!r}, {operator!r}, None) compares with None; "
            f"use where_tag({key!r}) to find jobs that have the label."
        )
    if stored.value_type == BOOLEAN and lookup != "exact":
        raise ValueError(f"Tag operator {operator!r} cannot order booleans; use '=' or '!='.")
    if stored.value_type == STRING:
        matches = Q(value_type=STRING, **{f"string_value__{lookup}": stored.string_value})
    else:
        matches = Q(
            value_type=stored.value_type, **{f"number_value__{lookup}": stored.number_value}
        )
    if operator == "!=":
        # Jobs that have the tag with any other value (of any type).
        return ~matches
    return matches


class JobStatusQuerySet(LaravelQuerySetAliases, models.QuerySet["JobStatus"]):
    """Filters that chain, answered by the database.

    ``JobStatus.objects`` is this QuerySet as a manager, so every filter is
    available at the start of a chain and after any other.
    """

    # -- filters -----------------------------------------------------------

    def for_job(self, job: str | _HasName) -> JobStatusQuerySet:
        """Jobs of one task, given as the task object or its dotted name."""
        return self._matching_text("job", job_name(job))

    def for_job_alias(self, alias: str) -> JobStatusQuerySet:
        """Jobs dispatched with this alias."""
        if not isinstance(alias, str):
            raise TypeError(f"for_job_alias() takes the alias as a string, got {alias!r}.")
        return self._matching_text("alias", alias)

    def _matching_text(self, field: str, value: str) -> JobStatusQuerySet:
        # No row holds text that cannot be stored (and PostgreSQL refuses a NUL
        # even in a query): such a value matches nothing, on every database.
        if isinstance(value, str) and unstorable_reason(value):
            return self.none()
        return self.filter(**{field: value})

    def where_tag(
        self, key: str, operator_or_value: Any = _MISSING, value: Any = _MISSING
    ) -> JobStatusQuerySet:
        """Jobs with a tag.

        ``where_tag(key)`` matches jobs that have the tag or label at all;
        ``where_tag(key, value)`` those whose tag equals ``value``;
        ``where_tag(key, operator, value)`` compares with one of
        ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``. Values keep their JSON type,
        so ``5`` matches the number 5 and not the string ``"5"``. ``!=`` matches
        jobs that have the tag with any other value.
        """
        from job_status.models import JobTag

        tags = JobTag.objects.filter(job_status=OuterRef("pk"), key=key)
        if operator_or_value is _MISSING:
            if value is not _MISSING:
                raise TypeError("where_tag() got a value without an operator.")
            store_value(key, None)  # validates the key
            return self.filter(Exists(tags))
        if value is _MISSING:
            operator, value = "=", operator_or_value
        else:
            operator = operator_or_value
            if not isinstance(operator, str):
                raise ValueError(f"Tag operators are strings like '=' or '<', got {operator!r}.")
        return self.filter(Exists(tags.filter(_tag_condition(key, operator, value))))

    def where_status(self, status: StatusArgument) -> JobStatusQuerySet:
        """Jobs in the given status, or in any of the given statuses."""
        return self.filter(status__in=parse_statuses(status))

    def where_not_status(self, status: StatusArgument) -> JobStatusQuerySet:
        """Jobs in none of the given statuses."""
        return self.exclude(status__in=parse_statuses(status))

    def where_queued(self) -> JobStatusQuerySet:
        return self.where_status(Status.QUEUED)

    def where_not_queued(self) -> JobStatusQuerySet:
        return self.where_not_status(Status.QUEUED)

    def where_started(self) -> JobStatusQuerySet:
        return self.where_status(Status.STARTED)

    def where_not_started(self) -> JobStatusQuerySet:
        return self.where_not_status(Status.STARTED)

    def where_succeeded(self) -> JobStatusQuerySet:
        return self.where_status(Status.SUCCEEDED)

    def where_not_succeeded(self) -> JobStatusQuerySet:
        return self.where_not_status(Status.SUCCEEDED)

    def where_success(self) -> JobStatusQuerySet:
        """The seed's spelling of :meth:`where_succeeded`."""
        return self.where_succeeded()

    def where_not_success(self) -> JobStatusQuerySet:
        """The seed's spelling of :meth:`where_not_succeeded`."""
        return self.where_not_succeeded()

    def where_failed(self) -> JobStatusQuerySet:
        return self.where_status(Status.FAILED)

    def where_not_failed(self) -> JobStatusQuerySet:
        return self.where_not_status(Status.FAILED)

    def where_cancelled(self) -> JobStatusQuerySet:
        return self.where_status(Status.CANCELLED)

    def where_not_cancelled(self) -> JobStatusQuerySet:
        return self.where_not_status(Status.CANCELLED)

    def where_running(self) -> JobStatusQuerySet:
        """Jobs a worker is running now (status ``started``)."""
        return self.where_status(RUNNING)

    def where_not_running(self) -> JobStatusQuerySet:
        return self.where_not_status(RUNNING)

    def where_finished(self) -> JobStatusQuerySet:
        return self.where_status(FINISHED)

    def where_not_finished(self) -> JobStatusQuerySet:
        return self.where_status(NOT_FINISHED)

    def for_batch(self, group_id: str) -> JobStatusQuerySet:
        """The members of a group or chord, by its group id."""
        return self._matching_text("group_id", group_id)

    # -- results -------------------------------------------------------------

    def get_by_task_id(self, task_id: str) -> JobStatus:
        """The job with this task id; a UUID may be given in any case, with or without
        dashes. Raises ``JobStatus.DoesNotExist`` naming the id if there is none."""
        from job_status.control import normalize_task_id

        if not isinstance(task_id, str) or not task_id.strip() or unstorable_reason(task_id):
            # (PostgreSQL refuses a NUL even in a query: no job can have one.)
            raise self.model.DoesNotExist(f"{task_id!r} is not a task id.")
        for candidate in dict.fromkeys([task_id, normalize_task_id(task_id)]):
            job = self.filter(task_id=candidate).first()
            if job is not None:
                return job
        raise self.model.DoesNotExist(f"No job with task id {task_id!r}.")

    def first_or_fail(self) -> JobStatus:
        """The most recently dispatched matching job, or ``JobStatus.DoesNotExist``."""
        job = self.first()
        if job is None:
            raise self.model.DoesNotExist(f"No {self.model._meta.verbose_name} matches the query.")
        return job

    def collect(self) -> JobStatusCollection:
        """Evaluate the query into a :class:`JobStatusCollection`."""
        from job_status.collection import JobStatusCollection

        return JobStatusCollection(self)

    # -- counts, answered by the database ---------------------------------------

    def _count(self, statuses: frozenset[Status]) -> int:
        if self.query.is_sliced:
            # A slice cannot be filtered further: count the statuses it holds.
            return sum(1 for status in self.values_list("status", flat=True) if status in statuses)
        return self.filter(status__in=statuses).count()

    def count_finished(self) -> int:
        return self._count(FINISHED)

    def count_successful(self) -> int:
        return self._count(SUCCESSFUL)

    def count_running(self) -> int:
        return self._count(RUNNING)

    def count_not_finished(self) -> int:
        return self._count(NOT_FINISHED)

    def counts(self) -> JobCounts:
        """All four counts in one query."""
        if self.query.is_sliced:
            statuses = list(self.values_list("status", flat=True))
            return JobCounts(
                *(
                    sum(1 for s in statuses if s in group)
                    for group in (FINISHED, SUCCESSFUL, RUNNING, NOT_FINISHED)
                )
            )
        totals = self.order_by().aggregate(
            finished=Count("pk", filter=Q(status__in=FINISHED)),
            successful=Count("pk", filter=Q(status__in=SUCCESSFUL)),
            running=Count("pk", filter=Q(status__in=RUNNING)),
            not_finished=Count("pk", filter=Q(status__in=NOT_FINISHED)),
        )
        return JobCounts(**totals)
