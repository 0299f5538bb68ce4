"""Jobs of an election office, each tracked by job_status (the demo dispatches six).

The alias names the kind of job for queries (``for_job_alias("export")``);
tags are computed from each call's own arguments, so every dispatch can be
found again (``where_tag("election", "=", 5)``). The sleeps stand in for work.

A bound tracked task (``bind=True``) also reaches its own record while it
runs, through ``self.job``: progress, messages and cancellation.
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


@tracked_task(alias="rebuild", tags=lambda index, chunks=8: {"index": index}, bind=True)
def rebuild_index(self: Any, index: str, chunks: int = 8) -> int:
    """Re-index the search index chunk by chunk, reporting progress and messages.

    Anyone can read them from the record while the job runs (``job.progress``,
    ``job.latest_message()``). Progress is written at most once a second
    (``JOB_STATUS_PROGRESS_INTERVAL``); messages are written at once.
    """
    job = self.job
    documents = 250
    job.debug(f"{index}: {chunks} chunks of {documents} documents")
    for chunk in range(1, chunks + 1):
        time.sleep(0.4)
        job.set_progress(current=chunk, total=chunks)
        job.info(f"chunk {chunk}/{chunks} indexed")
    job.success(f"{index}: {chunks * documents} documents indexed")
    return chunks * documents


@tracked_task(alias="archive", tags=lambda year, boxes=300: {"year": year}, bind=True)
def archive_ballots(self: Any, year: int, boxes: int = 300) -> int:
    """Archive scanned ballot boxes one by one: a long job that can be cancelled.

    ``job.cancel()`` from anywhere sets a flag on the record; ``check()`` sees it
    (re-reading it at most once a second, ``JOB_STATUS_CANCEL_POLL_INTERVAL``),
    runs the clean-ups registered with ``on_cancel`` and raises ``JobCancelled``,
    which ends the job ``cancelled`` rather than failed.
    """
    job = self.job
    archived = 0

    @job.on_cancel
    def remove_partial_archive() -> None:
        job.warning(f"cancelled after {archived} of {boxes} boxes; partial archive {year} removed")

    for box in range(1, boxes + 1):
        job.check()
        time.sleep(0.1)
        archived = box
        job.set_progress(current=box, total=boxes)
    job.success(f"{boxes} boxes archived")
    return boxes
