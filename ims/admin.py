"""The admin site for IMS's own records: the audit trail strictly read-only, role changes recorded."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group

from ims.audit import audit_record, snapshot
from ims.audit_api import VIEW_PERMISSION
from ims.models import AuditEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by IMS's services: people look, they do not add, edit or delete here."""

    actions = None

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class AuditedAdmin(admin.ModelAdmin):
    """Data an admin edits, each save recorded in the audit trail (`{audit_action}_add` or
    `_change`) with `audit_fields` before and after."""

    audit_action = ""
    audit_fields: tuple[str, ...] = ()

    def save_model(self, request, obj, form, change):
        before = (
            snapshot(type(obj).objects.get(pk=obj.pk), self.audit_fields)
            if change and obj.pk
            else None
        )
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            action=f"{self.audit_action}_{'change' if change else 'add'}",
            obj=obj,
            before=before,
            after=snapshot(obj, self.audit_fields),
        )


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Superadmins may look; nobody may add, change or delete (the database refuses it too)."""

    list_display = ("at", "actor_name", "action", "object_type", "object_id", "object_repr")
    list_filter = ("action", "object_type")
    search_fields = ("actor_name", "object_id", "object_repr", "reason")
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_module_permission(self, request) -> bool:
        return request.user.has_perm(VIEW_PERMISSION)

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm(VIEW_PERMISSION)


def _groups(user) -> list[str]:
    return sorted(user.groups.values_list("name", flat=True)) if user.pk else []


User = get_user_model()
ROLE_FLAGS = ("is_active", "is_staff", "is_superuser")


class AuditedUserAdmin(UserAdmin):
    """A user's roles (groups) and flags changed through the admin are recorded."""

    def save_model(self, request, obj, form, change):
        request._ims_before = (
            {
                "groups": _groups(obj),
                **dict(
                    zip(
                        ROLE_FLAGS,
                        User.objects.filter(pk=obj.pk).values_list(*ROLE_FLAGS).get(),
                        strict=True,
                    )
                ),
            }
            if change
            else {"groups": []}
        )
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        user = form.instance
        before = getattr(request, "_ims_before", {"groups": []})
        after = {"groups": _groups(user), **{f: getattr(user, f) for f in ROLE_FLAGS}}
        changed = {k for k in after if before.get(k) != after[k]}
        if changed:
            audit_record(
                actor=request.user,
                action="role_change",
                obj=user,
                before={k: before.get(k) for k in sorted(changed)},
                after={k: after[k] for k in sorted(changed)},
                reason="changed in the admin",
            )


def _permissions(group) -> list[str]:
    return sorted(
        f"{p.content_type.app_label}.{p.codename}"
        for p in group.permissions.select_related("content_type")
    )


class AuditedGroupAdmin(GroupAdmin):
    """A role's permissions changed through the admin are recorded."""

    def save_model(self, request, obj, form, change):
        request._ims_before = _permissions(obj) if change else []
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        group = form.instance
        after = _permissions(group)
        before = getattr(request, "_ims_before", [])
        if after != before:
            audit_record(
                actor=request.user,
                action="role_permissions_change",
                obj=group,
                before={"permissions": before},
                after={"permissions": after},
                reason="changed in the admin",
            )


admin.site.unregister(User)
admin.site.register(User, AuditedUserAdmin)
admin.site.unregister(Group)
admin.site.register(Group, AuditedGroupAdmin)
