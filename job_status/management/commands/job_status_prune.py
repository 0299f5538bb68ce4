"""``manage.py job_status_prune``: delete the records of jobs that finished long ago."""

from __future__ import annotations

import argparse
import math
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from job_status.pruning import (
    DEFAULT_BATCH_SIZE,
    MAX_BATCH_SIZE,
    PrunedBatch,
    describe_related,
    prune,
)


def _days(value: str) -> timedelta:
    try:
        days = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of days") from None
    if not math.isfinite(days) or days < 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be zero or a positive number of days")
    try:
        age = timedelta(days=days)
        timezone.now() - age
    except OverflowError:
        raise argparse.ArgumentTypeError(f"{value!r} days reaches back before the year 1") from None
    return age


def _batch_size(value: str) -> int:
    try:
        size = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of rows") from None
    if not 1 <= size <= MAX_BATCH_SIZE:
        raise argparse.ArgumentTypeError(f"{value!r} must be from 1 to {MAX_BATCH_SIZE} rows")
    return size


class Command(BaseCommand):
    help = (
        "Delete finished jobs (succeeded, failed, cancelled) that finished more than "
        "--older-than days ago, with their tags, messages, timeline and signals, in batches. "
        "Queued and started jobs are never deleted."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--older-than",
            type=_days,
            required=True,
            metavar="DAYS",
            help="Delete jobs that finished more than DAYS days ago (a fraction is allowed; "
            "0 deletes every finished job).",
        )
        parser.add_argument(
            "--keep-failed", action="store_true", help="Keep failed jobs, however old."
        )
        parser.add_argument(
            "--batch-size",
            type=_batch_size,
            default=DEFAULT_BATCH_SIZE,
            metavar="N",
            help=f"Jobs deleted per transaction (default {DEFAULT_BATCH_SIZE}, "
            f"at most {MAX_BATCH_SIZE}).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count what would be deleted."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity = options["verbosity"]

        def show_batch(batch: PrunedBatch) -> None:
            if verbosity >= 2:
                related = describe_related(batch.related)
                self.stdout.write(
                    f"Batch {batch.number}: {batch.jobs} job(s)"
                    + (f", with {related}." if related else ".")
                )

        try:
            report = prune(
                older_than=options["older_than"],
                keep_failed=options["keep_failed"],
                batch_size=options["batch_size"],
                dry_run=options["dry_run"],
                on_batch=show_batch,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if verbosity < 1:
            return
        verb = "Would delete" if report.dry_run else "Deleted"
        by_status = ", ".join(f"{report.jobs[status]} {status}" for status in report.statuses)
        kept = " Failed jobs were kept." if options["keep_failed"] else ""
        # isoformat pads the year to four digits (strftime's %Y does not everywhere).
        cutoff = report.cutoff.isoformat(sep=" ", timespec="seconds")
        self.stdout.write(
            f"{verb} {len(report)} job(s) finished before {cutoff}: {by_status}.{kept}"
        )
        related = describe_related(report.related)
        if verbosity >= 2 and related:
            self.stdout.write(f"With them: {related}.")
