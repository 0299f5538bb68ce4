"""The tracked task class and the ``tracked_task`` decorator."""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from celery.exceptions import Ignore, Retry
from celery.result import AsyncResult
from celery.utils import uuid
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from job_status.contrib.celery import headers as tracking
from job_status.dispatcher import current_dispatcher_id
from job_status.statuses import Status, Transition
from job_status.tags import TagsInput, TagValue, normalize_tags
from job_status.text import unstorable_reason

P = ParamSpec("P")
R = TypeVar("R")

TagsOption = TagsInput | Callable[..., TagsInput]

_APP = "job_status.contrib.celery"
MAX_LENGTH = 255  # of the alias and task id columns


def check_alias(alias: object) -> None:
    if not isinstance(alias, str):
        raise TypeError(f"A job alias must be a string, got {alias!r}.")
    if len(alias) > MAX_LENGTH:
        raise ValueError(f"A job alias is at most {MAX_LENGTH} characters; got {len(alias)}.")
    reason = unstorable_reason(alias)
    if reason:
        raise ValueError(f"The job alias {alias!r} cannot be stored: {reason}.")


def check_task_id(task_id: object) -> str:
    """The task id to dispatch with: a UUID in its canonical form (given in upper
    case, without dashes or in braces, it would be a different string for the
    broker and the database, and lookups would miss it), any other id as given."""
    from job_status.control import normalize_task_id

    if not isinstance(task_id, str) or not task_id:
        raise TypeError(f"A task id must be a non-empty string, got {task_id!r}.")
    if len(task_id) > MAX_LENGTH:
        raise ValueError(f"A task id is at most {MAX_LENGTH} characters; got {len(task_id)}.")
    reason = unstorable_reason(task_id)
    if reason:
        raise ValueError(f"The task id {task_id!r} cannot be stored: {reason}.")
    return normalize_task_id(task_id)


def check_task_id_unused(task_id: str) -> None:
    """Refuse a first dispatch under a custom task id that a recorded job already has:
    one row per task id, so the new job would be recorded on the old one's row.
    (Celery's own ids are UUIDs, which never collide: they are not looked up.)"""
    import uuid as uuid_module

    from job_status.models import JobStatus

    try:
        uuid_module.UUID(task_id)
    except ValueError:
        pass
    else:
        return
    if JobStatus.objects.filter(task_id=task_id).exists():
        raise ValueError(
            f"Task id {task_id!r} is already the id of a recorded job; a task id names one "
            "job, so give this dispatch another one."
        )


def check_canvas_options(options: Mapping[str, Any]) -> None:
    """Check the alias and tags given to the later steps of a chain (``.set(job_tags=...)``)
    now, at the chain's first dispatch: a step dispatched by the worker with tags that
    cannot be stored would fail the step before it, after its body ran."""
    for step in options.get("chain") or ():
        step_options = (step.get("options") if isinstance(step, Mapping) else None) or {}
        if step_options.get("job_alias") is not None:
            check_alias(step_options["job_alias"])
        if step_options.get("job_tags") is not None:
            normalize_tags(step_options["job_tags"])
        if step_options.get("job_public") not in (None, True, False):
            raise TypeError(
                f"job_public must be True or False, got {step_options['job_public']!r}."
            )


if TYPE_CHECKING:
    from job_status.running import JobHandle

    _TaskBase = DjangoTask[Any, Any]
else:  # Celery's task classes are not subscriptable at run time
    _TaskBase = DjangoTask


class TrackedTask(_TaskBase):
    """A Celery task whose every dispatch is recorded by job_status.

    Builds on Celery's ``DjangoTask``, so ``delay_on_commit`` keeps working.
    Set ``job_alias`` and ``job_tags`` on a subclass (or pass ``alias=`` and
    ``tags=`` to :func:`tracked_task`); ``job_tags`` may be a mapping, a list of
    labels, or a function of the task's own arguments that returns either.
    ``apply_async`` also takes ``job_alias=``, ``job_tags=`` and ``job_public=``
    for one dispatch. The dispatcher is the user of the request being served
    (``job_status.dispatcher``).
    """

    job_alias: str = ""
    job_tags: TagsOption = None
    # Every user may see this task's jobs, not only their dispatcher (API, widgets).
    job_public: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Celery turns decorator options into class attributes; a plain
        # function there would become a method and receive the task as self.
        if "run" in cls.__dict__:
            cls.run = _tracked_run(cls.__dict__["run"])  # type: ignore[method-assign]
        tags = cls.__dict__.get("job_tags")
        if isinstance(tags, types.FunctionType):
            cls.job_tags = staticmethod(tags)
        elif tags is not None and not callable(tags):
            # Fixed tags and alias are checked when the class is declared, so a
            # mistake fails at import, not at every dispatch.
            if not isinstance(tags, Mapping):
                cls.job_tags = tags = list(tags)  # a one-shot iterator would be used up
            normalize_tags(tags)
        check_alias(cls.__dict__.get("job_alias", ""))

    def get_job_tags(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> TagsInput:
        """The task's own tags for a call with ``args`` and ``kwargs``; override to compute them."""
        tags = self.job_tags
        if callable(tags):
            return tags(*args, **kwargs)
        return tags

    def job_tags_for(self, args: Any, kwargs: Any) -> dict[str, TagValue]:
        """:meth:`get_job_tags`, validated, for arguments as Celery passes them (maybe ``None``)."""
        return normalize_tags(self.get_job_tags(tuple(args or ()), dict(kwargs or {})))

    @property
    def job(self) -> JobHandle:
        """The running job's handle on its own record (on a bound task: ``self.job``):
        progress, messages, ``should_cancel()``/``check()`` and signals."""
        from job_status.running import current_job

        handle = current_job()
        if handle.task_id != self.request.id:
            raise LookupError(f"{self.name} is not running: there is no job to report on.")
        return handle

    def _run_tracked(self, body: Callable[[], Any]) -> Any:
        """Run the task's body the tracked way: not at all if it was cancelled
        before it started, ``cancelled`` if it stops at a check, and with its
        exception kept as raised if it fails."""
        from job_status import running
        from job_status.contrib.celery.handlers import (
            FAILURE,
            SKIP_BODY,
            failure_as_raised,
            writes_inline,
        )
        from job_status.recording import record
        from job_status.writer import writer

        request = self.request
        if request.called_directly:
            return body()  # a plain function call: no job, nothing to record
        if getattr(request, SKIP_BODY, False):
            # Cancelled before it started, and the revoke did not reach this
            # worker: the row already says cancelled; never run the body.
            raise Ignore()
        try:
            return body()
        except running.JobCancelled:
            running.flush(str(request.id))
            task_id, at = str(request.id), timezone.now()
            cancelled = Transition(Status.CANCELLED, int(request.retries or 0) + 1)
            writer.submit(
                lambda: record(task_id, cancelled, note="stopped at a cancellation check", at=at),
                inline=writes_inline(request),
            )
            raise Ignore() from None
        except Retry as retry:
            if request.is_eager and self.app.conf.task_eager_propagates:
                # Celery raises the Retry to the caller and never runs the retry.
                record(
                    str(request.id),
                    Transition(Status.FAILED, int(request.retries or 0) + 1),
                    failure=failure_as_raised(retry),
                    note="eager mode with task_eager_propagates does not run retries",
                )
            raise
        except Ignore:
            if not getattr(request, SKIP_BODY, False):
                # The body ended itself without an outcome (Task.replace does
                # this once it has handed over): it finished, nothing failed.
                task_id, at = str(request.id), timezone.now()
                succeeded = Transition(Status.SUCCEEDED, int(request.retries or 0) + 1)
                note = "the task raised Ignore (e.g. it was replaced)"
                writer.submit(
                    lambda: record(task_id, succeeded, note=note, at=at),
                    inline=writes_inline(request),
                )
            raise
        except BaseException as exc:
            failure = failure_as_raised(exc)
            setattr(request, FAILURE, failure)
            autoretry = tuple(getattr(self, "autoretry_for", ()) or ())
            if (
                request.is_eager
                and self.app.conf.task_eager_propagates
                and not isinstance(exc, autoretry)
            ):
                # With task_eager_propagates, Celery re-raises before it sends
                # task_failure: record the failure here.
                record(
                    str(request.id),
                    Transition(Status.FAILED, int(request.retries or 0) + 1),
                    failure=failure,
                )
            raise

    def retry(self, *args: Any, **kwargs: Any) -> Any:
        """Celery's ``retry()``, noting first when the attempt failed: Celery
        publishes the next attempt before it reports this one, and the timeline
        must show the failure before the next attempt's ``queued``."""
        from job_status.contrib.celery.handlers import RETRY_AT

        if not self.request.called_directly:
            setattr(self.request, RETRY_AT, timezone.now())
        return super().retry(*args, **kwargs)

    def delay_on_commit(self, *args: Any, **kwargs: Any) -> AsyncResult[Any]:
        """``delay()`` once the transaction commits (nothing if it rolls back).

        Unlike Celery's, returns a handle at once: the result of the task id
        the job will have, for a link or a page to poll after the commit.
        """
        return self.apply_async_on_commit(args, kwargs)

    def apply_async_on_commit(  # type: ignore[override]  # same options, passed through
        self, args: Any = None, kwargs: Any = None, **options: Any
    ) -> AsyncResult[Any]:
        """``apply_async()`` once the transaction commits, returning a handle at once
        (see :meth:`delay_on_commit`). The job's row appears after the commit."""
        task_id = options.pop("task_id", None)
        if task_id is None:
            task_id = uuid()
        task_id = check_task_id(task_id)
        using = options.pop("using", None)
        # Tags and alias are checked now, in the caller's code, not in a commit hook.
        headers = self._tracking_headers(
            args,
            kwargs,
            options.pop("job_alias", None),
            options.pop("job_tags", None),
            options.pop("job_public", None),
            options,
            task_id=task_id,
        )
        transaction.on_commit(
            partial(self.apply_async, args, kwargs, task_id=task_id, headers=headers, **options),
            using=using,
        )
        return self.AsyncResult(task_id)

    def _tracking_headers(
        self,
        args: Any,
        kwargs: Any,
        job_alias: str | None,
        job_tags: TagsInput,
        job_public: bool | None,
        options: dict[str, Any],
        task_id: str | None = None,
    ) -> dict[str, Any]:
        """The message headers with ours added, validating alias, tags (also those of a
        chain's later steps) and a custom task id on a first dispatch."""
        headers = dict(options.pop("headers", None) or {})
        if headers.get(tracking.TRACKED):
            return headers  # a resend: alias, tags and queued time must not move
        if options.get("retries"):
            # Celery's retry of a job sent by name, without our headers: the row
            # exists already, and the job must not fail on its tags now.
            headers[tracking.TRACKED] = True
            return headers
        tags = {**self.job_tags_for(args, kwargs), **normalize_tags(job_tags)}
        alias = self.job_alias if job_alias is None else job_alias
        check_alias(alias)
        public = self.job_public if job_public is None else job_public
        if not isinstance(public, bool):
            raise TypeError(f"job_public must be True or False, got {public!r}.")
        check_canvas_options(options)
        if task_id is not None and not options.get("replaced_task_nesting"):
            # (Task.replace() hands its own id to the task that replaces it.)
            check_task_id_unused(task_id)
        headers.update(
            tracking.TrackingHeaders(
                tracked=True,
                alias=alias,
                tags=tags,
                queued_at=timezone.now(),
                retry_of=headers.get(tracking.RETRY_OF) or "",
                dispatched_by=current_dispatcher_id(),
                public=public,
            ).encode()
        )
        return headers

    def apply_async(
        self,
        args: Any = None,
        kwargs: Any = None,
        task_id: str | None = None,
        *positional: Any,
        job_alias: str | None = None,
        job_tags: TagsInput = None,
        job_public: bool | None = None,
        **options: Any,
    ) -> Any:
        if not apps.is_installed(_APP):
            raise ImproperlyConfigured(
                f"{type(self).__name__} is a tracked task, but {_APP!r} is not in INSTALLED_APPS, "
                "so its status would never be recorded."
            )
        if task_id is not None:
            task_id = check_task_id(task_id)
        headers = self._tracking_headers(
            args, kwargs, job_alias, job_tags, job_public, options, task_id=task_id
        )
        if self.app.conf.task_always_eager:
            # Eager mode publishes nothing, so no publish signal records the
            # queued row: do it here, before the job runs. (Imported here:
            # this module is imported before apps are ready.)
            from job_status.contrib.celery.info import job_info
            from job_status.recording import record_dispatch

            task_id = task_id or uuid()
            info = job_info(
                self.name,
                self,
                tracking.decode(headers),
                args=args,
                kwargs=kwargs,
                queue=options.get("queue") or "",
                canvas=options,
            )
            record_dispatch(task_id, Transition(Status.QUEUED, 1), info)
        return super().apply_async(args, kwargs, task_id, *positional, headers=headers, **options)

    def apply(
        self,
        args: Any = None,
        kwargs: Any = None,
        *positional: Any,
        job_alias: str | None = None,
        job_tags: TagsInput = None,
        job_public: bool | None = None,
        **options: Any,
    ) -> Any:
        """Celery's ``apply()`` (the job runs here and now, and is recorded), with
        ``job_alias=``, ``job_tags=`` and ``job_public=`` as for :meth:`apply_async`."""
        task_id = options.get("task_id")
        if task_id is not None:
            options["task_id"] = task_id = check_task_id(task_id)
        options["headers"] = self._tracking_headers(
            args, kwargs, job_alias, job_tags, job_public, options, task_id=task_id
        )
        return super().apply(args, kwargs, *positional, **options)


def _tracked_run(run: Any) -> Any:
    """Wrap a task class's ``run`` (the task's body) in :meth:`TrackedTask._run_tracked`.

    The body is wrapped rather than ``__call__`` overridden: with a custom
    ``__call__``, Celery before 5.7 gives the body a fresh, empty request.
    """
    if isinstance(run, staticmethod):  # the decorator's unbound function
        function = run.__func__

        @functools.wraps(function)
        def unbound(self: TrackedTask, *args: Any, **kwargs: Any) -> Any:
            return self._run_tracked(lambda: function(*args, **kwargs))

        return unbound

    @functools.wraps(run)
    def bound(self: TrackedTask, *args: Any, **kwargs: Any) -> Any:
        return self._run_tracked(lambda: run(self, *args, **kwargs))

    return bound


@overload
def tracked_task(fn: Callable[P, R], /) -> TrackedTask: ...


@overload
def tracked_task(
    *, alias: str = "", tags: TagsOption = None, public: bool = False, **options: Any
) -> Callable[[Callable[P, R]], TrackedTask]: ...


def tracked_task(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    alias: str = "",
    tags: TagsOption = None,
    public: bool = False,
    **options: Any,
) -> Any:
    """Declare a tracked Celery task, as ``@shared_task`` would.

    ``@tracked_task`` alone, or ``@tracked_task(alias="export", tags=..., bind=True)``;
    other options go to Celery unchanged. ``tags`` may be a function of the
    task's arguments: ``tags=lambda election_id: {"election": election_id}``.
    ``public=True``: every user may see its jobs, not only their dispatcher.
    """
    base = options.pop("base", TrackedTask)
    if not (isinstance(base, type) and issubclass(base, TrackedTask)):
        raise TypeError(f"tracked_task(base=...) must be a subclass of TrackedTask, got {base!r}.")
    # Checked now, so a mistake in fixed tags or the alias fails at import
    # (Celery creates the task class itself later, when the app is finalized).
    check_alias(alias)
    if tags is not None and not callable(tags):
        if not isinstance(tags, (Mapping, str, bytes)):
            tags = list(tags)  # labels; a one-shot iterator would be used up
        normalize_tags(tags)
    if not isinstance(public, bool):
        raise TypeError(f"public must be True or False, got {public!r}.")
    declare = partial(
        shared_task, base=base, job_alias=alias, job_tags=tags, job_public=public, **options
    )
    if fn is not None:
        return declare()(fn)
    return declare()


@shared_task(name="job_status.reap_stale_jobs", ignore_result=True)
def reap_stale_jobs() -> int:
    """The reaper as a Celery task, for ``CELERY_BEAT_SCHEDULE``; returns how many jobs it ended."""
    from job_status.reaper import reap

    return len(reap())


def tag_canvas(signature: Any, *, alias: str | None = None, tags: TagsInput = None) -> Any:
    """Give every tracked member of a chain, group or chord an alias and tags.

    Members keep their own: what the member's signature already sets wins. The
    signature is changed in place and returned, so it can be dispatched as usual:
    ``tag_canvas(group(export.s(5), export.s(6)), alias="exports").apply_async()``.
    """
    extra = normalize_tags(tags)
    if alias is not None and not isinstance(alias, str):
        raise TypeError(f"A job alias must be a string, got {alias!r}.")
    for member in _members(signature):
        if not isinstance(member.type, TrackedTask):
            continue
        options = member.options
        if alias is not None:
            options.setdefault("job_alias", alias)
        if options.get("job_alias") is not None:
            check_alias(options["job_alias"])
        options["job_tags"] = {**extra, **normalize_tags(options.get("job_tags"))}
    return signature


def _members(signature: Any) -> Any:
    """Every task signature inside a canvas, depth first. (Duck-typed: Celery's
    ``chain(...)`` returns instances of a private class.)"""
    members = getattr(signature, "tasks", None)  # a chain, a group, a chord's header
    if members is None:
        yield signature
        return
    for member in members:
        yield from _members(member)
    body = getattr(signature, "body", None)  # a chord's body
    if body is not None:
        yield from _members(body)
