"""What every API view shares: role permissions checked like the pages do."""

from __future__ import annotations

import re

from drf_spectacular.utils import extend_schema_field
from rest_framework import permissions, serializers
from rest_framework.exceptions import PermissionDenied

from ims.csvio import INT_MAX, INT_MIN
from ims.money import DECIMAL_PLACES, MAX_DIGITS, MAX_WHOLE_DIGITS


class RolePermissions(permissions.DjangoModelPermissions):
    """Model permissions from the user's role, including `view` for reads.

    An action may name its own permissions in the view's `action_perms`
    (e.g. acknowledging exceptions needs exceptions.acknowledge_opsexception).
    """

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        **{method: ["%(app_label)s.view_%(model_name)s"] for method in ("GET", "OPTIONS", "HEAD")},
    }

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return False
        action = getattr(view, "action", None)
        required = getattr(view, "action_perms", {}).get(action)
        if required is not None:
            return request.user.has_perms(required)
        return super().has_permission(request, view)


def require_perm(request, permission: str) -> None:
    """An API action's role check, before its body is read: 403 (audited) if not held."""
    if not request.user.has_perm(permission):
        raise PermissionDenied(f"your role may not do this ({permission})")


# ---------------------------------------------------------------------------
# JSON body fields that take what the schema says and nothing coerced into it.


class Text(serializers.CharField):
    """Text: a JSON string, never a number or true/false turned into one."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class Whole(serializers.IntegerField):
    """A whole number: a JSON integer, never a string or a float turned into one, and within
    what the database holds."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", INT_MIN)
        kwargs.setdefault("max_value", INT_MAX)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


AMOUNT = rf"^\d{{1,{MAX_WHOLE_DIGITS}}}(\.\d{{1,{DECIMAL_PLACES}}})?$"


@extend_schema_field(
    {
        "type": "string",
        "format": "decimal",
        "pattern": AMOUNT,
        "example": "19.99",
        "description": "an amount as a string, up to 10 digits and 4 decimals",
    }
)
class Amount(serializers.DecimalField):
    """An amount of money as a string ("19.99"): a JSON number is a float, already rounded."""

    default_error_messages = {"invalid": 'Give an amount as a string such as "19.99".'}

    def __init__(self, **kwargs):
        super().__init__(
            max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, min_value=0, **kwargs
        )

    def to_internal_value(self, data):
        if not isinstance(data, str) or not re.fullmatch(AMOUNT, data):
            self.fail("invalid")
        return super().to_internal_value(data)
