"""The Laravel package's camelCase spellings, as thin aliases, all in one place.

People coming from the PHP package can write ``whereTag``/``firstOrFail``/
``countFinished`` and get exactly the snake_case method of the same meaning.
Nothing else in the app uses these names. The mixins below are spelled out
(not generated) so that type checkers and editors see every alias.
"""

from __future__ import annotations

from typing import Any, cast

from job_status.statuses import Status

# Which snake_case method each alias calls (the tests check that every one exists).
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
    "countFinished": "count_finished",
    "countSuccessful": "count_successful",
    "countRunning": "count_running",
    "countNotFinished": "count_not_finished",
}
COLLECTION_ALIASES = {
    "countFinished": "count_finished",
    "countSuccessful": "count_successful",
    "countRunning": "count_running",
    "countNotFinished": "count_not_finished",
}
MODEL_ALIASES = {
    "getStatus": "get_status",
    "wasSuccessful": "was_successful",
    "hasFinished": "has_finished",
    "isRunning": "is_running",
}


class LaravelCollectionAliases:
    """``countFinished``, ... on a ``JobStatusCollection`` (and, inherited, on the QuerySet)."""

    def countFinished(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, self).count_finished(*args, **kwargs)

    def countSuccessful(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, self).count_successful(*args, **kwargs)

    def countRunning(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, self).count_running(*args, **kwargs)

    def countNotFinished(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, self).count_not_finished(*args, **kwargs)


class LaravelQuerySetAliases(LaravelCollectionAliases):
    """``forJob``, ``whereTag``, ... on the QuerySet (and so on ``JobStatus.objects``)."""

    def forJob(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, self).for_job(*args, **kwargs)

    def forJobAlias(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, self).for_job_alias(*args, **kwargs)

    def whereTag(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, self).where_tag(*args, **kwargs)

    def whereStatus(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, self).where_status(*args, **kwargs)

    def whereNotStatus(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, self).where_not_status(*args, **kwargs)

    def whereQueued(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, self).where_queued(*args, **kwargs)

    def whereNotQueued(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, self).where_not_queued(*args, **kwargs)

    def whereStarted(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, self).where_started(*args, **kwargs)

    def whereNotStarted(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, self).where_not_started(*args, **kwargs)

    def whereSuccess(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, self).where_succeeded(*args, **kwargs)

    def whereNotSuccess(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, self).where_not_succeeded(*args, **kwargs)

    def whereSucceeded(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, self).where_succeeded(*args, **kwargs)

    def whereNotSucceeded(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, self).where_not_succeeded(*args, **kwargs)

    def whereFailed(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, self).where_failed(*args, **kwargs)

    def whereNotFailed(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, self).where_not_failed(*args, **kwargs)

    def whereCancelled(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, self).where_cancelled(*args, **kwargs)

    def whereNotCancelled(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, self).where_not_cancelled(*args, **kwargs)

    def firstOrFail(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, self).first_or_fail(*args, **kwargs)


class LaravelModelAliases:
    """``getStatus``, ``wasSuccessful``, ... and the seed's status constants on ``JobStatus``."""

    QUEUED = Status.QUEUED
    STARTED = Status.STARTED
    SUCCESS = Status.SUCCEEDED
    FAILED = Status.FAILED
    CANCELLED = Status.CANCELLED

    def getStatus(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, self).get_status(*args, **kwargs)

    def wasSuccessful(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, self).was_successful(*args, **kwargs)

    def hasFinished(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, self).has_finished(*args, **kwargs)

    def isRunning(self, *args: Any, **kwargs: Any) -> Any:
        return cast(Any, self).is_running(*args, **kwargs)
