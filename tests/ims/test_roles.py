import pytest
from django.contrib.auth.models import Group

from ims.roles import ROLE_PERMISSIONS, Role

pytestmark = pytest.mark.django_db


def test_every_role_is_a_group_holding_exactly_its_permissions():
    for role, names in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role.value)
        held = {
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.select_related("content_type")
        }
        assert held == set(names), role


def test_only_catalog_managers_admins_and_superadmins_may_create_products(user_with_role):
    allowed = {role for role in Role if user_with_role(role).has_perm("catalog.add_product")}
    assert allowed == {Role.CATALOG_MANAGER, Role.ADMIN, Role.SUPERADMIN}
