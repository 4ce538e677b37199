"""What every API view shares: role permissions checked like the pages do."""

from __future__ import annotations

from rest_framework import permissions


class RolePermissions(permissions.DjangoModelPermissions):
    """Model permissions from the user's role, including `view` for reads.

    An action may name its own permission with `required_perms` on the view
    (e.g. acknowledging exceptions needs exceptions.acknowledge_opsexception).
    """

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return False
        action = getattr(view, "action", None)
        required = getattr(view, "action_perms", {}).get(action)
        if required is not None:
            return request.user.has_perms(required)
        return super().has_permission(request, view)
