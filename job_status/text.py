"""Text as every database can store it.

Two kinds of Python string cannot be stored as they are: one with a NUL
character (PostgreSQL refuses it in text and JSON), and one with a lone
surrogate, which is not valid Unicode and cannot be encoded for any database.
Lone surrogates are ordinary in practice: ``os.listdir()`` and
``sys.argv`` decode bytes that are not UTF-8 with ``surrogateescape``, so a
file name can carry one into an exception message or a tag.

Text that only describes (messages, exceptions, tracebacks) is escaped, so
that the write goes through; text that is looked up again (tag keys and values,
aliases, task ids) is refused with :func:`unstorable_reason`, because an escaped
value would never match what the caller asks for later.
"""

from __future__ import annotations


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def unstorable_reason(text: str) -> str | None:
    """Why ``text`` cannot be stored as it is, or ``None`` if it can."""
    if "\x00" in text:
        return "it has a NUL character, which PostgreSQL cannot store"
    if _has_lone_surrogate(text):
        return (
            "it has a lone surrogate (not valid Unicode, e.g. bytes decoded with "
            "'surrogateescape'), which no database can store"
        )
    return None


def storable_text(text: str, max_length: int | None = None) -> str:
    """``text`` with NUL characters and lone surrogates escaped (``\\x00``,
    ``\\udce9``), cut to ``max_length`` where the column has one."""
    text = text.replace("\x00", "\\x00")
    if _has_lone_surrogate(text):
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text[:max_length] if max_length else text
