"""The message templates IMS uses, one per kind of customer message. They start `pending`:
an admin registers each with Meta (same name, language and parameters) and marks it
approved once Meta has approved it; only approved templates are ever sent."""

from django.db import migrations

TEMPLATES = [
    ("order_received", "ims_order_received", ["customer_name", "order"], ""),
    ("order_dispatched", "ims_order_dispatched", ["customer_name", "order", "tracking_number"], ""),
    ("order_delivered", "ims_order_delivered", ["customer_name", "order"], ""),
    ("order_cancelled", "ims_order_cancelled", ["customer_name", "order"], ""),
    ("order_backorder_filled", "ims_order_status", ["customer_name", "order", "status"], ""),
    ("return_received", "ims_return_received", ["customer_name", "order"], ""),
    ("payment_link", "ims_payment_link", ["customer_name", "order"], "url"),
    ("prescription_otp", "ims_prescription_code", ["code"], "code"),
    ("inbound_reply", "ims_shop_pointer", ["shop_url"], ""),
]


def create(apps, schema_editor):
    MessageTemplate = apps.get_model("notifications", "MessageTemplate")
    for kind, name, parameters, button in TEMPLATES:
        MessageTemplate.objects.get_or_create(
            kind=kind,
            defaults={
                "name": name,
                "language": "en_US",
                "status": "pending",
                "parameters": parameters,
                "button_parameter": button,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("notifications", "0001_initial")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
