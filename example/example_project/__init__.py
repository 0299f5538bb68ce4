# Load the Celery app whenever Django starts, so that @shared_task (and so
# @tracked_task) binds to it: https://docs.celeryq.dev/en/stable/django/
from example_project.celery import app as celery_app

__all__ = ["celery_app"]
