"""Who dispatched a job: the signed-in user of the request being served.

``DispatcherMiddleware`` notes the request in a context variable; a dispatch
made while it is served asks for the request's user only then, so requests
that dispatch nothing pay nothing. Outside a request (a shell, a management
command, a job dispatching another), ``dispatched_by(user)`` says who it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

# Either a request (its user is read when a job is dispatched) or a user's primary key.
_dispatcher: ContextVar[HttpRequest | str | None] = ContextVar(
    "job_status_dispatcher", default=None
)


def current_dispatcher_id() -> str:
    """The primary key (as text) of the user dispatching now, or ``""``."""
    found = _dispatcher.get()
    if found is None or isinstance(found, str):
        return found or ""
    user = getattr(found, "user", None)
    if user is None or not user.is_authenticated:
        return ""
    return str(user.pk)


@contextmanager
def dispatched_by(user: Any) -> Iterator[None]:
    """Jobs dispatched inside this block record ``user`` (a user, a primary key, or
    ``None`` for nobody) as their dispatcher."""
    if user is None:
        value = ""
    elif hasattr(user, "pk"):
        value = str(user.pk) if getattr(user, "is_authenticated", True) else ""
    else:
        value = str(user)
    token = _dispatcher.set(value)
    try:
        yield
    finally:
        _dispatcher.reset(token)


def enter_job(user_id: str) -> Token[HttpRequest | str | None]:
    """While a job runs: the jobs it dispatches (a chain's next step included)
    belong to its own dispatcher. Undo with :func:`leave_job`."""
    return _dispatcher.set(user_id)


def leave_job(token: Token[HttpRequest | str | None]) -> None:
    _dispatcher.reset(token)


class DispatcherMiddleware:
    """Record the signed-in user as the dispatcher of the jobs a request dispatches.

    Add it after ``AuthenticationMiddleware``. Works for sync and async views.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        token = _dispatcher.set(request)
        try:
            return self.get_response(request)
        finally:
            _dispatcher.reset(token)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        token = _dispatcher.set(request)
        try:
            response: HttpResponseBase = await self.get_response(request)
            return response
        finally:
            _dispatcher.reset(token)
