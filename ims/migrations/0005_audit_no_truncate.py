"""On PostgreSQL, a statement trigger refuses TRUNCATE of the audit trail too (the row trigger
of 0002 never sees a TRUNCATE). A superuser is let through: it can switch any trigger off
anyway, and tests empty every table between transactional tests that way.

And no role but the owner keeps more than SELECT and INSERT on it: on a database set up by
`manage.py db_roles` before its first `migrate`, the owner's default privileges gave the
application UPDATE and DELETE on every table 0001 created, this one included."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION ims_audit_no_truncate() RETURNS trigger AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the audit trail cannot be changed (% on ims_auditevent refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER ims_auditevent_no_truncate
    BEFORE TRUNCATE ON ims_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION ims_audit_no_truncate();
DO $$
DECLARE
    grantee oid;
BEGIN
    FOR grantee IN
        SELECT DISTINCT a.grantee FROM pg_class c, aclexplode(c.relacl) a
        WHERE c.oid = 'ims_auditevent'::regclass AND a.grantee <> c.relowner
          AND a.privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER')
    LOOP
        EXECUTE format(
            'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ims_auditevent FROM %s',
            CASE WHEN grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(grantee)) END
        );
    END LOOP;
END;
$$;
"""
BACKWARD = """
DROP TRIGGER IF EXISTS ims_auditevent_no_truncate ON ims_auditevent;
DROP FUNCTION IF EXISTS ims_audit_no_truncate();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("ims", "0004_audit_action_index")]
    operations = [migrations.RunPython(forward, backward)]
