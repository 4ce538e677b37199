"""The audit trail is append-only, in the application and (PostgreSQL) in the database itself."""

import pytest
from django.db import DatabaseError, connection, transaction

from ims.audit import audit_origin, audit_record
from ims.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_an_event_names_actor_action_object_before_after_reason_and_origin(world, user_with_role):
    from channels.models import Channel
    from ims.roles import Role

    admin = user_with_role(Role.ADMIN)
    channel = Channel.objects.get(code="shop")
    with audit_origin("command test"):
        event = audit_record(
            actor=admin,
            action="channel_pause",
            obj=channel,
            before={"status": "active"},
            after={"status": "paused"},
            reason="oversold",
        )
    event.refresh_from_db()
    assert (
        event.actor_name,
        event.action,
        event.object_type,
        event.object_id,
        event.object_repr,
    ) == ("admin", "channel_pause", "channels.channel", str(channel.pk), "shop")
    assert (event.before, event.after, event.reason, event.origin) == (
        {"status": "active"},
        {"status": "paused"},
        "oversold",
        "command test",
    )


def test_the_application_refuses_to_change_or_delete_an_event():
    event = audit_record(actor=None, action="test", object_type="x", object_id="1")
    assert event.actor_name == "system"
    event.reason = "rewritten"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()


@pytest.mark.postgres
def test_the_database_refuses_raw_update_and_delete_on_postgresql():
    audit_record(actor=None, action="test", object_type="x", object_id="1")
    for sql in ("UPDATE ims_auditevent SET reason = 'rewritten'", "DELETE FROM ims_auditevent"):
        with (
            pytest.raises(DatabaseError, match="the audit trail cannot be changed"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
    assert AuditEvent.objects.get().reason == ""


def test_a_request_is_the_origin_of_what_it_records(client, user_with_role, world):
    from ims.roles import Role

    client.force_login(user_with_role(Role.OPS))
    recorded = AuditEvent.objects.count()
    client.get("/")  # no change: nothing recorded
    assert AuditEvent.objects.count() == recorded
