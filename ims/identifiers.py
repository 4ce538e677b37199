"""What a SKU or a location code may be, decided once for the API, the pages and every file.

An identifier is 1 to 64 characters: ASCII letters, digits, `.`, `_` and `-`, starting with a
letter or a digit. It is safe in a URL path segment as it stands, and a spreadsheet never reads
it as a formula. (Channel codes are slugs, checked by their own model.)
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

from django.core.exceptions import ValidationError

MAX_LENGTH = 64
IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
RULE = "letters A-Z a-z, digits, '.', '_' and '-', starting with a letter or digit"


def identifier_problem(text: str) -> str | None:
    """Why `text` is not an identifier (None when it is one)."""
    if not text:
        return "is required"
    if len(text) > MAX_LENGTH:
        return f"is {len(text)} characters long; at most {MAX_LENGTH}"
    if not IDENTIFIER.fullmatch(text):
        return f"'{text}' may hold only {RULE}"
    return None


def parse_identifier(text: str) -> str:
    """A cell parser (ValueError with the reason) for files."""
    problem = identifier_problem(text)
    if problem:
        raise ValueError(problem)
    return text


def validate_identifier(value: str) -> None:
    """The Django validator of model, form and serializer fields."""
    problem = identifier_problem(value)
    if problem:
        raise ValidationError(problem, code="invalid_identifier")


class IdentifierConverter:
    """A URL path segment carrying an identifier.

    It resolves any segment and reverses any stored value (a row older than the rule, with a
    `/` or a space in it, still gets a working link instead of breaking the page that lists it):
    the value is percent-encoded on the way out and decoded on the way in."""

    regex = "[^/]+"

    def to_python(self, value: str) -> str:
        return unquote(value)

    def to_url(self, value: str) -> str:
        return quote(str(value), safe="")
