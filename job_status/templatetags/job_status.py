"""``{% load job_status %}``: live job progress in your own pages.

``{% job_status_assets %}`` once per page (its CSS and script), then
``{% job_progress task_id %}`` for one job, or
``{% job_progress alias="export" tags="election=5" %}`` for the newest job of a
selection (``job=`` and ``status=`` select too; ``tags`` is a dict, or one
``key=value`` or a list of them, as the API's ``tag`` filter takes them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from django import template
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html

from job_status.conf import app_settings
from job_status.views.api import tag_value

register = template.Library()

_NEEDS_QUOTES = re.compile(r'^"|[=!<>]')


def _tag_filters(tags: Any) -> list[str]:
    if not tags:
        return []
    if isinstance(tags, str):
        return [tags]
    if isinstance(tags, Mapping):
        return [
            _key(str(key)) if value is None else f"{_key(str(key))}={_literal(value)}"
            for key, value in tags.items()
        ]
    if isinstance(tags, Iterable):
        return [str(tag) for tag in tags]
    raise template.TemplateSyntaxError(f"job_progress: tags={tags!r} is not a tag filter.")


def _key(key: str) -> str:
    # As the API reads it back (views.api.parse_tag_filter): a key that holds an
    # operator's character, or starts with a quote, is sent as a JSON string;
    # plain, "a<b=1" would be read as the key "a" compared with "b=1".
    return json.dumps(key) if _NEEDS_QUOTES.search(key) else key


def _literal(value: Any) -> str:
    # As the API reads it back (views.api.tag_value): numbers and booleans keep
    # their type; a string the API would read as something else is sent quoted.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    return text if tag_value(text) == text and text else json.dumps(text)


@register.simple_tag
def job_status_assets() -> str:
    return format_html(
        '<link rel="stylesheet" href="{}"><script src="{}" defer></script>',
        static("job_status/job_status.css"),
        static("job_status/job_status.js"),
    )


@register.inclusion_tag("job_status/widget.html")
def job_progress(
    task_id: str | None = None,
    *,
    alias: str | None = None,
    job: str | None = None,
    tags: Any = None,
    status: str | None = None,
    empty: str = "",
    interval: float | None = None,
) -> dict[str, Any]:
    if task_id:
        url = reverse("job_status:api-job", args=[task_id])
    else:
        params: list[tuple[str, str]] = [("per_page", "1")]
        params += [("alias", alias)] if alias else []
        params += [("job", job)] if job else []
        params += [("status", status)] if status else []
        params += [("tag", tag) for tag in _tag_filters(tags)]
        if len(params) == 1:
            raise template.TemplateSyntaxError(
                "job_progress needs a task id, or alias=, job=, tags= or status= to select jobs."
            )
        url = f"{reverse('job_status:api-jobs')}?{urlencode(params)}"
    seconds = app_settings.POLL_INTERVAL if interval is None else float(interval)
    return {"url": url, "empty": empty, "interval_ms": int(seconds * 1000)}
