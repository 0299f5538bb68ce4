"""Three jobs of an election office, each tracked by job_status.

The alias names the kind of job for queries (``for_job_alias("export")``);
tags are computed from each call's own arguments, so every dispatch can be
found again (``where_tag("election", "=", 5)``). The sleeps stand in for work.
"""

from __future__ import annotations

import time
from typing import Any

from job_status.contrib.celery import tracked_task


@tracked_task(
    alias="export",
    tags=lambda election_id, fmt="csv": {"election": election_id, "format": fmt},
)
def export_results(election_id: int, fmt: str = "csv") -> str:
    """Write an election's results to a file; succeeds."""
    time.sleep(0.3)
    return f"results-{election_id}.{fmt}"


@tracked_task(alias="import", tags=lambda filename: {"file": filename})
def import_voters(filename: str) -> int:
    """Load a voter roll; fails on a bad row, like a real import would."""
    time.sleep(0.2)
    raise ValueError("row 12: missing postcode")


def _fetch_changes(source: str, attempt: int) -> list[str]:
    """Stand-in for a remote API that drops the first connection."""
    if attempt == 0:
        raise ConnectionError(f"{source}: connection reset by peer")
    return ["contact-1", "contact-2"]


# "nightly" is a bare label: a tag without a value, found with where_tag("nightly").
@tracked_task(
    alias="sync",
    tags=lambda source: {"source": source, "nightly": None},
    bind=True,
    max_retries=3,
)
def sync_contacts(self: Any, source: str) -> int:
    """Pull changed contacts; the first attempt hits a network error and retries."""
    time.sleep(0.2)
    try:
        changes = _fetch_changes(source, self.request.retries)
    except ConnectionError as exc:
        # A retry reuses the task id: job_status keeps one row and counts attempts.
        raise self.retry(exc=exc, countdown=1) from exc
    return len(changes)
