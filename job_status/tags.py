"""Tags: what may be stored, and how a value is kept so it can be compared.

A tag is a key with a JSON-typed scalar value (string, number or boolean) or a
bare label (a key without a value). Values keep their type: ``5`` and ``"5"``
are different tags. Anything else is refused when the job is dispatched, so a
job never runs with tags that silently went missing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from job_status.text import unstorable_reason

TagValue = str | int | float | bool | None
"""A tag's value; ``None`` makes the tag a bare label."""

TagsInput = Mapping[str, TagValue] | Iterable[str] | None
"""Tags as callers give them: a mapping, or an iterable of label names."""

MAX_KEY_LENGTH = 100
MAX_STRING_LENGTH = 255


class InvalidTag(ValueError):
    """A tag that cannot be stored: bad key, or a value that is not a JSON scalar."""


@dataclass(frozen=True)
class StoredTag:
    """A tag split into the typed columns the database compares on."""

    key: str
    value_type: str  # "label", "string", "number" or "boolean"
    string_value: str | None = None
    number_value: float | None = None

    @property
    def value(self) -> TagValue:
        if self.value_type == "string":
            return self.string_value
        if self.value_type == "boolean":
            return bool(self.number_value)
        if self.value_type == "number":
            number = self.number_value
            assert number is not None
            return int(number) if number.is_integer() else number
        return None


LABEL, STRING, NUMBER, BOOLEAN = "label", "string", "number", "boolean"


def _check_key(key: object) -> str:
    if not isinstance(key, str) or not key:
        raise InvalidTag(f"Tag keys must be non-empty strings, got {key!r}.")
    reason = unstorable_reason(key)
    if reason:
        raise InvalidTag(f"Tag key {key!r} cannot be stored: {reason}.")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidTag(f"Tag key {key[:20]!r}... is longer than {MAX_KEY_LENGTH} characters.")
    return key


def store_value(key: str, value: object) -> StoredTag:
    """Split one tag into typed columns, or raise :class:`InvalidTag` naming the problem."""
    key = _check_key(key)
    if value is None:
        return StoredTag(key, LABEL)
    if isinstance(value, bool):  # before int: bool is an int subclass
        return StoredTag(key, BOOLEAN, number_value=1.0 if value else 0.0)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidTag(f"Tag {key!r} has the value {value!r}, which JSON cannot store.")
        if isinstance(value, int) and abs(value) > 2**53:
            raise InvalidTag(
                f"Tag {key!r} has the integer {value}, too large to compare exactly "
                "(at most 2**53); store it as a string."
            )
        return StoredTag(key, NUMBER, number_value=float(value))
    if isinstance(value, str):
        reason = unstorable_reason(value)
        if reason:
            raise InvalidTag(
                f"Tag {key!r} has the value {value!r}, which cannot be stored: {reason}."
            )
        if len(value) > MAX_STRING_LENGTH:
            raise InvalidTag(
                f"Tag {key!r} has a string value longer than {MAX_STRING_LENGTH} characters."
            )
        return StoredTag(key, STRING, string_value=value)
    raise InvalidTag(
        f"Tag {key!r} has a value of type {type(value).__name__} ({value!r}); "
        "tag values must be str, int, float or bool (or None for a bare label)."
    )


def normalize_tags(tags: object) -> dict[str, TagValue]:
    """Validate tags given as a mapping or as label names; return a plain dict.

    The dict is what travels in message headers, so it only holds JSON scalars.
    """
    if tags is None:
        return {}
    if isinstance(tags, Mapping):
        items = list(tags.items())
    elif isinstance(tags, (str, bytes)):
        raise InvalidTag(
            f"Tags must be a mapping or an iterable of label names, got the string {tags!r}."
        )
    elif isinstance(tags, Iterable):
        items = [(label, None) for label in tags]
    else:
        raise InvalidTag(
            f"Tags must be a mapping or an iterable of label names, got {type(tags).__name__}."
        )
    normalized: dict[str, TagValue] = {}
    for key, value in items:
        normalized[key] = store_value(key, value).value
    return normalized
