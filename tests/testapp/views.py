"""Views of the test app: a user's request that dispatches jobs."""

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from tests.testapp import tasks


def dispatch_add(request: HttpRequest) -> JsonResponse:
    result = tasks.add.apply_async((1, 2), queue=request.GET.get("queue") or "celery")
    return JsonResponse({"task_id": result.id})


class _RolledBack(Exception):
    pass


def dispatch_then_roll_back(request: HttpRequest) -> JsonResponse:
    """The message leaves, the queued row never does: the worker creates the row."""
    task_id = ""
    try:
        with transaction.atomic():
            task_id = tasks.add.apply_async((2, 3)).id
            raise _RolledBack
    except _RolledBack:
        pass
    return JsonResponse({"task_id": task_id})


def widget_page(request: HttpRequest, task_id: str) -> HttpResponse:
    """A page of the user's own app, embedding a job's progress twice: by id, and
    as the newest job of an alias and tags."""
    return render(request, "testapp/widget.html", {"task_id": task_id, "tags": {"steps": 10}})
