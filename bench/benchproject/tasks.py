"""The three kinds of trivial job the benchmark compares; each adds two numbers."""

from celery import shared_task

from job_status.contrib.celery import tracked_task


@shared_task(name="bench.add_untracked", ignore_result=True)
def add_untracked(a: int, b: int) -> int:
    """A plain Celery task: nothing records it."""
    return a + b


@tracked_task(name="bench.add_tracked", ignore_result=True)
def add_tracked(a: int, b: int) -> int:
    """Recorded by job_status (its queued, started and succeeded rows)."""
    return a + b


@shared_task(name="bench.add_dcr", ignore_result=False, track_started=True)
def add_dcr(a: int, b: int) -> int:
    """Recorded by django-celery-results (result_backend "django-db"), started state included."""
    return a + b
