"""Default SLA policies for every channel (an admin edits them, or adds a channel's own):
round the clock until a location's calendar and business hours are set up."""

import datetime as dt

from django.db import migrations

DEFAULTS = [
    # kind, target, ladder: (anchor, offset, recipient, role)
    (
        "acknowledgement",
        dt.timedelta(hours=2),
        [("warning", dt.timedelta(0), "location", ""), ("breach", dt.timedelta(0), "role", "Ops")],
    ),
    (
        "dispatch",
        dt.timedelta(hours=24),
        [
            ("warning", dt.timedelta(0), "location", ""),
            ("breach", dt.timedelta(0), "role", "Ops"),
            ("breach", dt.timedelta(hours=1), "role", "Admin"),
        ],
    ),
    ("delivery", dt.timedelta(days=7), [("breach", dt.timedelta(0), "role", "Ops")]),
    (
        "return",
        dt.timedelta(hours=72),
        [
            ("warning", dt.timedelta(0), "location", ""),
            ("breach", dt.timedelta(0), "role", "Ops"),
            ("breach", dt.timedelta(hours=24), "role", "Admin"),
        ],
    ),
]


def create(apps, schema_editor):
    SlaPolicy = apps.get_model("sla", "SlaPolicy")
    EscalationStep = apps.get_model("sla", "EscalationStep")
    for kind, target, ladder in DEFAULTS:
        if SlaPolicy.objects.filter(channel__isnull=True, kind=kind).exists():
            continue
        policy = SlaPolicy.objects.create(kind=kind, target=target, warning_pct=75)
        for position, (anchor, offset, recipient, role) in enumerate(ladder, start=1):
            EscalationStep.objects.create(
                policy=policy,
                position=position,
                anchor=anchor,
                offset=offset,
                recipient=recipient,
                role=role,
            )


class Migration(migrations.Migration):
    dependencies = [("sla", "0002_roles")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
