"""A refused page is a page of the site: its navigation, what the role may not do, the
refusal recorded, and a way back; an Admin has a link to the admin site, nobody else."""

import pytest

from ims.models import AuditEvent
from ims.roles import Role

pytestmark = pytest.mark.django_db


def test_a_store_user_refused_the_exceptions_page_sees_why_and_a_way_back(
    world, client, user_with_role
):
    client.force_login(user_with_role(Role.STORE_STAFF, "sam"))
    response = client.get("/products/new/", HTTP_REFERER="http://testserver/products/")
    assert response.status_code == 403
    page = response.content.decode()
    assert '<header class="topbar">' in page and "Log out" in page
    assert "Your role may not do this" in page
    assert "GET /products/new/" in page and "(Store Staff)" in page
    assert "recorded in the audit trail" in page
    assert 'href="http://testserver/products/"' in page  # back where they came from
    assert AuditEvent.objects.filter(action="access_denied", actor_name="sam").exists()


@pytest.mark.parametrize(
    ("role", "sees"), [(Role.ADMIN, True), (Role.SUPERADMIN, True), (Role.OPS, False)]
)
def test_only_admins_have_a_link_to_the_admin_site(world, client, django_user_model, role, sees):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(
        role.name.lower(), password="pw", is_staff=role in (Role.ADMIN, Role.SUPERADMIN)
    )
    user.groups.add(Group.objects.get(name=role.value))
    client.force_login(user)
    page = client.get("/").content.decode()
    assert ('href="/admin/"' in page) is sees
