"""``manage.py job_status_reap``: end records that no worker will report on."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from job_status.reaper import reap

MAX_SECONDS = 10 * 365 * 24 * 3600  # ten years: beyond that, a typo


def _seconds(value: str, *, allow_zero: bool = False) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not (0 <= seconds <= MAX_SECONDS) or (seconds == 0 and not allow_zero):
        least = "0" if allow_zero else "more than 0"
        raise argparse.ArgumentTypeError(
            f"{value!r} must be a number of seconds from {least} to {MAX_SECONDS}"
        )
    return seconds


def _grace(value: str) -> float:
    return _seconds(value, allow_zero=True)


class Command(BaseCommand):
    help = (
        "Fail jobs left 'started' past their hard time limit, or past --stale-after "
        "seconds without one; jobs whose cancel was requested end 'cancelled'."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--stale-after",
            type=_seconds,
            help="Seconds after its start when a job without a time limit counts as lost "
            "(default: JOB_STATUS_STALE_AFTER, 3600).",
        )
        parser.add_argument(
            "--grace",
            type=_grace,
            help="Seconds past a job's own hard time limit before it is failed "
            "(default: JOB_STATUS_REAP_GRACE, 60).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Only list what would be ended.")

    def handle(self, *args: Any, **options: Any) -> None:
        stale_after, grace = options["stale_after"], options["grace"]
        try:
            report = reap(
                stale_after=timedelta(seconds=stale_after) if stale_after else None,
                grace=timedelta(seconds=grace) if grace is not None else None,
                dry_run=options["dry_run"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        verb = "would end" if options["dry_run"] else "ended"
        if options["verbosity"] >= 2:
            for task_id in report.failed:
                self.stdout.write(f"failed: {task_id}")
            for task_id in report.cancelled:
                self.stdout.write(f"cancelled: {task_id}")
        if options["verbosity"] >= 1:
            self.stdout.write(
                f"Reaper {verb} {len(report)} job(s): {len(report.failed)} failed, "
                f"{len(report.cancelled)} cancelled."
            )
