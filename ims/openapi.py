"""The OpenAPI schema tells the truth about errors: every operation documents the error answers
it can give, in the one error shape ({"code", "message", "extra"}, ims/errors.py).

drf-spectacular documents what a view returns when it succeeds; `error_responses` (a
post-processing hook) adds, to every operation:
- 401 (no or a bad token) and 403 (the role may not), since every endpoint needs both;
- 404 where the path names an object, or a `page` can run past the end;
- 400 where there is input to refuse: a request body, or filters in the query.
What a service refuses for the state of things (409) is documented on the view itself, with
`CONFLICT`.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

ERROR = "Error"
ERROR_SCHEMA = {
    "type": "object",
    "description": "What went wrong: a stable code, a sentence, and data about it "
    "(`extra.fields` names each refused field with its reasons).",
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "extra": {"type": "object", "additionalProperties": True},
    },
    "required": ["code", "message", "extra"],
}
REASONS = {
    "400": "The input was refused; `extra.fields` names each field and why.",
    "401": "No credentials, or credentials IMS does not know.",
    "403": "The role of the acting user does not allow this.",
    "404": "No such object (or page).",
}
UNSAFE = {"post", "put", "patch", "delete"}

# What Django and DRF refuse in any text field, told as patterns (ECMA and Python regexes alike):
# a NUL anywhere; and, where a value is required, one that is blank once trimmed (str.strip's
# whitespace, which is not quite regex `\s`).
NO_NUL = "^[^\\u0000]*$"
_SPACE = (
    "\\u0009-\\u000d\\u001c-\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000"
)
NOT_BLANK = f"^[^\\u0000]*[^\\u0000{_SPACE}][^\\u0000]*$"
NUMBER_FILTER_MAX = 1e50


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    extra = serializers.DictField()


CONFLICT = OpenApiResponse(
    ErrorSerializer, description="Refused for the state the object is in; nothing was changed."
)


def _error(reason: str) -> dict:
    return {
        "description": reason,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR}"}}},
    }


def _plain_text(schema: dict) -> bool:
    return schema.get("type") == "string" and not schema.keys() & {"enum", "format", "pattern"}


def _input_rules(result) -> None:
    """Query filters: empty is "no filter", a NUL is refused, numbers stop at 1e50. Request
    bodies: a NUL is refused, and a required text (minLength 1) holds more than white space."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") != "query":
                    continue
                parameter["allowEmptyValue"] = True
                schema = parameter.get("schema", {})
                if parameter["name"] == "cursor":  # opaque: one IMS cannot read gives page one
                    continue
                if schema.get("type") == "number":  # django-filter's NumberFilter's bound
                    schema["maximum"] = NUMBER_FILTER_MAX
                if _plain_text(schema):
                    schema["pattern"] = NO_NUL
                elif schema.get("type") == "array" and _plain_text(schema.get("items", {})):
                    schema["items"]["pattern"] = NO_NUL
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if not name.endswith("Request"):
            continue
        for field in component.get("properties", {}).values():
            for text in (field, field.get("items", {}), field.get("additionalProperties", {})):
                if isinstance(text, dict) and _plain_text(text):
                    text["pattern"] = NOT_BLANK if text.get("minLength", 0) >= 1 else NO_NUL


def error_responses(result, generator, request, public):
    """drf-spectacular post-processing hook: each operation's possible error answers. The
    `Error` component is ErrorSerializer's (a view's CONFLICT), described in full here."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR] = ERROR_SCHEMA
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in UNSAFE | {"get", "head"}:
                continue
            parameters = operation.get("parameters", [])
            in_path = any(p["in"] == "path" for p in parameters)
            query = {p["name"] for p in parameters if p["in"] == "query"}
            codes = ["401", "403"]
            if in_path or "page" in query:
                codes.append("404")
            if method in UNSAFE or query - {"page"}:
                codes.append("400")
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(code, _error(REASONS[code]))
    _input_rules(result)
    return result
