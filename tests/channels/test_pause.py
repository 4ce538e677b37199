"""A channel is paused with its reason, admins are told, and only an admin resumes it."""

import pytest
from django.core import mail

from channels.models import Channel
from channels.services import channel_pause, channel_resume
from ims.errors import NotAllowed
from ims.models import AuditEvent, Notification
from ims.roles import Role

pytestmark = pytest.mark.django_db


def test_a_pause_records_the_reason_and_alerts_admins_in_the_app_and_by_email(
    world, user_with_role
):
    admin, ops = user_with_role(Role.ADMIN), user_with_role(Role.OPS)
    channel = Channel.objects.get(code="shop")
    assert channel_pause(channel=channel, reason="oversold B-2") is True
    assert (channel.status, channel.pause_reason) == ("paused", "oversold B-2")
    assert list(Notification.objects.values_list("recipient__username", "subject")) == [
        ("admin", "Channel shop paused")
    ]
    assert [m.to for m in mail.outbox] == [[admin.email]]
    assert not Notification.objects.filter(recipient=ops).exists()
    event = AuditEvent.objects.get(action="channel_pause")
    assert (event.actor_name, event.reason) == ("system", "oversold B-2")
    # Pausing again keeps the first reason.
    assert channel_pause(channel=channel, reason="sync failed") is False
    assert Channel.objects.get(code="shop").pause_reason == "oversold B-2"


def test_only_an_admin_resumes_a_paused_channel(world, user_with_role):
    channel = Channel.objects.get(code="shop")
    channel_pause(channel=channel, reason="sync failed")
    with pytest.raises(NotAllowed):
        channel_resume(channel=channel, actor=user_with_role(Role.OPS))
    assert Channel.objects.get(code="shop").status == "paused"
    channel_resume(channel=channel, actor=user_with_role(Role.ADMIN), reason="provider fixed")
    assert (channel.status, channel.pause_reason) == ("active", "")
    assert AuditEvent.objects.get(action="channel_resume").actor_name == "admin"
