"""What a tracked job carries in its message headers.

Everything a worker needs to create the full row by itself travels with the
message, because the worker can get there before the publisher's row exists.
Celery merges custom headers over its own, so every key is prefixed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from job_status.tags import TagValue

TRACKED = "job_status_tracked"
ALIAS = "job_status_alias"
TAGS = "job_status_tags"
QUEUED_AT = "job_status_queued_at"
RETRY_OF = "job_status_retry_of"
DISPATCHED_BY = "job_status_dispatched_by"
PUBLIC = "job_status_public"


@dataclass(frozen=True)
class TrackingHeaders:
    tracked: bool = False
    alias: str = ""
    tags: dict[str, TagValue] = field(default_factory=dict)
    queued_at: datetime | None = None
    retry_of: str = ""
    dispatched_by: str = ""  # the user's primary key, as text
    public: bool = False

    def encode(self) -> dict[str, Any]:
        return {
            TRACKED: True,
            ALIAS: self.alias,
            TAGS: dict(self.tags),
            QUEUED_AT: self.queued_at.isoformat() if self.queued_at else None,
            RETRY_OF: self.retry_of,
            DISPATCHED_BY: self.dispatched_by,
            PUBLIC: self.public,
        }


def getter(headers: Any) -> Callable[[str], Any]:
    """Look keys up in a headers dict, or as attributes of a request (or of ``None``)."""
    if isinstance(headers, dict):
        return headers.get
    return lambda key: getattr(headers, key, None)


def decode(headers: Any) -> TrackingHeaders:
    """Read our headers from a message's headers or a task request, tolerating absence."""
    if not headers:
        return TrackingHeaders()
    get = getter(headers)
    if not get(TRACKED):
        return TrackingHeaders()
    queued_at = get(QUEUED_AT)
    tags = get(TAGS)
    return TrackingHeaders(
        tracked=True,
        alias=get(ALIAS) or "",
        tags=dict(tags) if isinstance(tags, dict) else {},
        queued_at=_parse_time(queued_at),
        retry_of=get(RETRY_OF) or "",
        dispatched_by=str(get(DISPATCHED_BY) or ""),
        public=get(PUBLIC) is True,
    )


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None  # a malformed header costs the dispatch time, not the record


def from_request(request: Any) -> TrackingHeaders:
    """Our headers as the worker sees them: in ``request.headers``, or (Celery puts
    custom headers there too) as attributes of the request."""
    decoded = decode(getattr(request, "headers", None))
    return decoded if decoded.tracked else decode(request)
