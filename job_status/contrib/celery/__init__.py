"""Everything that knows Celery: the tracked task, its decorator and the signal handlers.

Add ``"job_status.contrib.celery"`` to ``INSTALLED_APPS`` (after ``"job_status"``)
to connect the handlers.
"""

from job_status.contrib.celery.tasks import TrackedTask, tag_canvas, tracked_task

__all__ = ["TrackedTask", "tag_canvas", "tracked_task"]
