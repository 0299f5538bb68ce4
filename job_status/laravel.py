"""The Laravel package's camelCase spellings, as thin aliases, all in one place.

People coming from the PHP package can write ``whereTag``/``firstOrFail``/
``countFinished`` and get exactly the snake_case method of the same meaning.
Nothing else in the app uses these names.
"""

from __future__ import annotations

from typing import Any


def _alias(target: str) -> Any:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(self, target)(*args, **kwargs)

    method.__name__ = target
    method.__doc__ = f"Alias of :meth:`{target}`, in the Laravel package's spelling."
    return method


_COUNTS = {
    "countFinished": "count_finished",
    "countSuccessful": "count_successful",
    "countRunning": "count_running",
    "countNotFinished": "count_not_finished",
}

QUERYSET_ALIASES = {
    "forJob": "for_job",
    "forJobAlias": "for_job_alias",
    "whereTag": "where_tag",
    "whereStatus": "where_status",
    "whereNotStatus": "where_not_status",
    "whereQueued": "where_queued",
    "whereNotQueued": "where_not_queued",
    "whereStarted": "where_started",
    "whereNotStarted": "where_not_started",
    "whereSuccess": "where_succeeded",
    "whereNotSuccess": "where_not_succeeded",
    "whereSucceeded": "where_succeeded",
    "whereNotSucceeded": "where_not_succeeded",
    "whereFailed": "where_failed",
    "whereNotFailed": "where_not_failed",
    "whereCancelled": "where_cancelled",
    "whereNotCancelled": "where_not_cancelled",
    "firstOrFail": "first_or_fail",
    **_COUNTS,
}

COLLECTION_ALIASES = dict(_COUNTS)

MODEL_ALIASES = {
    "getStatus": "get_status",
    "wasSuccessful": "was_successful",
    "hasFinished": "has_finished",
    "isRunning": "is_running",
}


def _mixin(name: str, aliases: dict[str, str]) -> type:
    return type(name, (), {alias: _alias(target) for alias, target in aliases.items()})


# Typed as Any so that mypy accepts the generated camelCase attributes.
LaravelQuerySetAliases: Any = _mixin("LaravelQuerySetAliases", QUERYSET_ALIASES)
LaravelCollectionAliases: Any = _mixin("LaravelCollectionAliases", COLLECTION_ALIASES)
LaravelModelAliases: Any = _mixin("LaravelModelAliases", MODEL_ALIASES)
