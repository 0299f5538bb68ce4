"""The benchmark's own Django project: settings, Celery app and tasks (see ../README.md)."""
