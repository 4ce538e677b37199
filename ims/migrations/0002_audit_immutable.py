"""On PostgreSQL, a trigger refuses UPDATE and DELETE on the audit trail, whoever asks."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION ims_audit_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail cannot be changed (% on ims_auditevent refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER ims_auditevent_immutable
    BEFORE UPDATE OR DELETE ON ims_auditevent
    FOR EACH ROW EXECUTE FUNCTION ims_audit_immutable();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS ims_auditevent_immutable ON ims_auditevent;
DROP FUNCTION IF EXISTS ims_audit_immutable();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("ims", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
