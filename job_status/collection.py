"""A list of job statuses that can count itself, like the seed's JobStatusCollection."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from job_status.laravel import LaravelCollectionAliases
from job_status.statuses import FINISHED, NOT_FINISHED, RUNNING, SUCCESSFUL, Status

if TYPE_CHECKING:
    from job_status.models import JobStatus


class JobStatusCollection(LaravelCollectionAliases, list["JobStatus"]):
    """An evaluated query: a plain list with the seed's four counts.

    The counts are taken from the rows in hand, so they describe exactly what
    was fetched. To count without fetching, call the same methods on the
    QuerySet instead.
    """

    def __init__(self, jobs: Iterable[JobStatus] = ()) -> None:
        super().__init__(jobs)

    def _count(self, statuses: frozenset[Status]) -> int:
        return sum(1 for job in self if job.status in statuses)

    def count_finished(self) -> int:
        return self._count(FINISHED)

    def count_successful(self) -> int:
        return self._count(SUCCESSFUL)

    def count_running(self) -> int:
        return self._count(RUNNING)

    def count_not_finished(self) -> int:
        return self._count(NOT_FINISHED)
