"""Roles as Django groups, and the permissions each holds.

ROLE_PERMISSIONS is the one place roles are defined; migrations call
sync_groups() so the groups in the database always match it (each app that adds
permissions adds a migration calling it). Superadmins are also Django
superusers; Admins are staff (they may open the admin site).
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CATALOG_MANAGER = "Catalog Manager"
    PRICING = "Pricing (HQ)"
    OPS = "Ops"
    STORE_STAFF = "Store Staff"
    FINANCE = "Finance"
    ADMIN = "Admin"
    SUPERADMIN = "Superadmin"


VIEW_ALL = [
    "catalog.view_product",
    "catalog.view_category",
    "catalog.view_price",
    "inventory.view_location",
    "inventory.view_stocklevel",
    "inventory.view_movement",
    "channels.view_channel",
    "channels.view_channellisting",
    "channels.view_syncrun",
    "exceptions.view_opsexception",
    "exceptions.view_reconcilerun",
    "orders.view_channelorder",
    "inventory.view_transfer",
    "orders.view_customerreturn",
    "inventory.view_vendorreturn",
    "inventory.view_creditnote",
    "orders.view_possale",
    "sla.view_slaclock",
    "sla.view_slapolicy",
    "channels.view_channelassortment",
]
CATALOG_EDIT = ["catalog.add_product", "catalog.change_product", "catalog.add_productalias"]
PRICE_EDIT = ["catalog.add_price"]
TRIAGE = ["exceptions.acknowledge_opsexception", "exceptions.push_opsexception"]
ORDER_ACT = ["orders.dispatch_order", "orders.cancel_order"]
STORE_FLOOR = [
    "orders.add_possale",
    "orders.add_customerreturn",
    "orders.release_quarantine",
    "inventory.receive_stock",
    "inventory.add_transfer",
    "inventory.receive_transfer",
    "inventory.add_vendorreturn",
    "orders.inspect_customerreturn",
]
FINANCE_DOCS = ["inventory.add_creditnote", "inventory.close_vendorreturn"]
ORDER_ADMIN = [
    "orders.approve_pos_override",
    "orders.decide_backorder",
    "orders.replay_webhookdelivery",
    "orders.view_webhookdelivery",
]
# SLA clocks: acknowledge orders, mark returns processed, take on and close breach tasks.
SLA_ACT = ["sla.act_slaclock"]
# SLA policies, ladders and calendars (also in the admin site), customer message set-up.
SLA_ADMIN = [
    "sla.manage_slapolicy",
    *(
        f"sla.{action}_{model}"
        for model in (
            "slapolicy",
            "escalationstep",
            "businesscalendar",
            "openinghours",
            "closedday",
            "locationstaff",
        )
        for action in ("add", "change", "delete", "view")
    ),
    *(
        f"notifications.{action}_{model}"
        for model in ("messagetemplate", "channelmessaging")
        for action in ("add", "change", "delete", "view")
    ),
]
# Customer messages: see what was sent, attach prescriptions, send payment links.
CUSTOMER_MESSAGES = [
    "notifications.view_messagedelivery",
    "notifications.view_inboundmessage",
    "notifications.add_prescription",
    "notifications.send_payment_link",
]
CHANNEL_ADMIN = [
    "channels.change_channel",
    "channels.resume_channel",
    "channels.approve_syncrun",
    "catalog.change_category",
]
# What each channel offers and how much of a product it may show (Ops decide).
ASSORTMENT_EDIT = ["channels.add_channelassortment", "channels.change_channelassortment"]
# Creating a product's listing on a channel from IMS (channels.publish): the catalog managers
# who create products, and Ops who clear Missing_SKU.
PUBLISH = ["channels.publish_listing"]
ADMIN_ALL = [
    *VIEW_ALL,
    *ASSORTMENT_EDIT,
    *PUBLISH,
    *CATALOG_EDIT,
    *PRICE_EDIT,
    *TRIAGE,
    *CHANNEL_ADMIN,
    *ORDER_ACT,
    *STORE_FLOOR,
    *FINANCE_DOCS,
    *ORDER_ADMIN,
    *SLA_ACT,
    *SLA_ADMIN,
    *CUSTOMER_MESSAGES,
]

ROLE_PERMISSIONS: dict[Role, list[str]] = {
    Role.CATALOG_MANAGER: [*VIEW_ALL, *CATALOG_EDIT, *PUBLISH],
    Role.PRICING: [*VIEW_ALL, *PRICE_EDIT],
    Role.OPS: [
        *VIEW_ALL,
        *TRIAGE,
        *ORDER_ACT,
        "inventory.add_transfer",
        "inventory.receive_transfer",
        "inventory.receive_stock",
        *SLA_ACT,
        *CUSTOMER_MESSAGES,
        *ASSORTMENT_EDIT,
        *PUBLISH,
    ],
    Role.STORE_STAFF: [
        *VIEW_ALL,
        *ORDER_ACT,
        *STORE_FLOOR,
        *SLA_ACT,
        "notifications.add_prescription",
    ],
    Role.FINANCE: [*VIEW_ALL, *FINANCE_DOCS],
    Role.ADMIN: ADMIN_ALL,
    # What Admins hold, and the decisions and the audit trail only Superadmins have.
    Role.SUPERADMIN: [*ADMIN_ALL, "catalog.approve_price", "ims.view_auditevent"],
}


def sync_groups(apps, schema_editor=None) -> None:
    """Create every role's group and give it exactly ROLE_PERMISSIONS (for RunPython)."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role.value)
        wanted = []
        for name in names:
            app_label, codename = name.split(".")
            permission = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if permission is not None:  # an app not migrated yet grants it in its own migration
                wanted.append(permission)
        group.permissions.set(wanted)


def users_with_role(*roles: Role):
    from django.contrib.auth import get_user_model

    return (
        get_user_model()
        .objects.filter(groups__name__in=[r.value for r in roles], is_active=True)
        .distinct()
    )
