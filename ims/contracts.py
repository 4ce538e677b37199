"""The IPSP JSON contracts (contracts/*.json), validated with jsonschema."""

from __future__ import annotations

import json
import re
from functools import cache

from django.conf import settings
from jsonschema import Draft202012Validator, FormatChecker

CONTRACTS_DIR = settings.BASE_DIR / "contracts"


@cache
def validator(name: str) -> Draft202012Validator:
    schema = json.loads((CONTRACTS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def contract_errors(name: str, record: dict) -> list[tuple[str, str]]:
    """(csv column, reason) for each way `record` breaks the contract `name`."""
    problems = []
    for error in validator(name).iter_errors(record):
        if error.validator == "required":
            missing = re.search(r"'([^']+)'", error.message)
            column = snake(missing.group(1)) if missing else "row"
            problems.append((column, "is required"))
        else:
            column = snake(str(error.path[0])) if error.path else "row"
            problems.append((column, f"{error.message} ({name}.json)"))
    return problems
