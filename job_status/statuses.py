"""The five statuses and the rules that decide which event may overwrite which.

Events about one job reach the database from several processes, sometimes twice
and out of order (see docs/status-rules.md). Every write is therefore conditional: it only
lands on a row whose current state :func:`may_replace` allows. This module is
pure Python so the rules can be tested as a table; ``recording`` turns the same
rules into the ``WHERE`` clause of one ``UPDATE``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    """What a tracked job is doing, or how it ended."""

    QUEUED = "queued", _("Queued")
    """Dispatched (or waiting for a retry) and not yet picked up by a worker."""
    STARTED = "started", _("Started")
    """A worker is running the job's current attempt."""
    SUCCEEDED = "succeeded", _("Succeeded")
    """The job returned normally."""
    FAILED = "failed", _("Failed")
    """The job raised, ran out of retries, or its worker was lost."""
    CANCELLED = "cancelled", _("Cancelled")
    """The job was revoked or cancelled before it could finish."""


FINISHED = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED})
NOT_FINISHED = frozenset({Status.QUEUED, Status.STARTED})
RUNNING = frozenset({Status.STARTED})
SUCCESSFUL = frozenset({Status.SUCCEEDED})

# Within one attempt a job only moves forward: queued, then started, then an
# ending. Two endings share a rank, so neither replaces the other.
_RANK = {
    Status.QUEUED: 0,
    Status.STARTED: 1,
    Status.SUCCEEDED: 2,
    Status.FAILED: 2,
    Status.CANCELLED: 2,
}


def parse_status(value: str | Status) -> Status:
    """Return ``value`` as a :class:`Status`, or raise ``ValueError`` naming the choices."""
    try:
        if isinstance(value, str):
            return Status(value)
    except ValueError:
        pass
    choices = ", ".join(repr(s.value) for s in Status)
    raise ValueError(f"Unknown job status {value!r}; expected one of {choices}.")


def parse_statuses(value: str | Status | Iterable[str | Status]) -> list[Status]:
    """Accept one status or several and return them parsed, in the order given."""
    if isinstance(value, str) or not isinstance(value, Iterable) or isinstance(value, bytes):
        return [parse_status(value)]  # anything but a str is refused there, naming the choices
    statuses = [parse_status(item) for item in value]
    if not statuses:
        raise ValueError("Expected at least one job status, got an empty collection.")
    return statuses


@dataclass(frozen=True)
class State:
    """What a row says now: its status, the attempt it belongs to, and whether
    its final status is only provisional (presumed because the worker was lost,
    or by the reaper)."""

    status: Status
    attempt: int
    provisional: bool = False


@dataclass(frozen=True)
class Transition:
    """An event about one attempt of a job.

    ``attempt`` is ``None`` when the sender cannot know which attempt it saw
    (the worker's main process reporting a lost child or a time limit); such an
    event applies to whatever attempt the row is on.
    """

    status: Status
    attempt: int | None
    provisional: bool = False


def same_attempt_replaceable(incoming: Status) -> frozenset[Status]:
    """The statuses of the *same* attempt that ``incoming`` may overwrite."""
    rank = _RANK[incoming]
    return frozenset(status for status, other in _RANK.items() if other < rank)


def may_replace(current: State | None, incoming: Transition) -> bool:
    """Whether ``incoming`` may overwrite a row that is in ``current`` state.

    ``None`` means there is no row yet: every event may create one, because the
    worker can start before the publisher's row exists.
    """
    if current is None:
        return True
    attempt = current.attempt if incoming.attempt is None else incoming.attempt
    if attempt > current.attempt:
        return True  # a later attempt reopens the row
    if attempt < current.attempt:
        return False
    if current.provisional and incoming.status is not Status.QUEUED:
        # The worker was presumed lost, but the same attempt ran after all
        # (redelivery): what really happened wins.
        return True
    return current.status in same_attempt_replaceable(incoming.status)
