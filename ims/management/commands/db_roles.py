"""Make PostgreSQL's two roles for IMS: an owner that runs the migrations, and the application
that owns nothing.

    python manage.py db_roles --owner ims_owner --app ims_app

Run it connected as a superuser (DATABASE_URL), before `migrate` and again whenever you like:
it changes only what is not so yet and prints each change. Passwords, when given, come from
IMS_DB_OWNER_PASSWORD and IMS_DB_APP_PASSWORD (never the command line); without them a role
logs in as pg_hba.conf allows (peer, certificate) or is given one with ALTER ROLE.

- The owner (LOGIN) owns every table, sequence and function in the schema and may create
  more: `DATABASE_URL=$DATABASE_OWNER_URL python manage.py migrate`.
- The application (LOGIN, no SUPERUSER, CREATEROLE, CREATEDB, BYPASSRLS, not a member of the
  owner) reads and writes every table, but only reads and adds to the audit trail: it cannot
  UPDATE, DELETE or TRUNCATE `ims_auditevent`, nor switch its trigger off (only an owner
  can) nor `SET session_replication_role` (only a superuser can). Tables later migrations
  create get the same grants (default privileges of the owner).
"""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from ims.models import AuditEvent

SCHEMA = "public"
APP_TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
AUDIT_PRIVILEGES = "SELECT, INSERT"
# What the application role may never be.
APP_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
# relkind: the objects whose owner matters; sequences owned by a table follow it.
KINDS = {"r": "table", "p": "table", "v": "view", "m": "materialized view", "f": "foreign table"}
# Not what an extension installed: that belongs to the extension.
OWN = "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = {oid} AND d.deptype = 'e')"


def quoted(name: str) -> str:
    return connection.ops.quote_name(name)


class Command(BaseCommand):
    help = "Create or bring up to date the PostgreSQL owner and application roles."

    def add_arguments(self, parser):
        parser.add_argument("--owner", required=True, help="the role that owns and migrates")
        parser.add_argument("--app", required=True, help="the role the application connects as")

    def handle(self, *args, owner: str, app: str, **options):
        if connection.vendor != "postgresql":
            raise CommandError("db_roles is for PostgreSQL (DATABASE_URL is not PostgreSQL)")
        if owner == app:
            raise CommandError("the owner and the application must be two roles")
        with transaction.atomic(), connection.cursor() as cursor:
            self.cursor = cursor
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            if not cursor.fetchone()[0]:
                raise CommandError("run db_roles connected as a PostgreSQL superuser")
            if connection.settings_dict["USER"] in (owner, app):
                raise CommandError("the owner and the application are roles other than yours")
            self.role(owner, "LOGIN NOSUPERUSER", os.environ.get("IMS_DB_OWNER_PASSWORD"))
            self.role(app, APP_ATTRIBUTES, os.environ.get("IMS_DB_APP_PASSWORD"))
            self.not_member(app, owner)
            self.owner(owner)
            self.grants(owner, app)

    def run(self, sql: str, params=None) -> None:
        self.cursor.execute(sql, params)

    def say(self, text: str) -> None:
        self.stdout.write(text)

    def role(self, name: str, attributes: str, password: str | None) -> None:
        self.run("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
        if self.cursor.fetchone():
            self.run(f"ALTER ROLE {quoted(name)} {attributes}")
            self.say(f"role {name} exists: {attributes}")
        else:
            self.run(f"CREATE ROLE {quoted(name)} {attributes}")
            self.say(f"created role {name}: {attributes}")
        if password:
            # A utility statement takes no bound parameter: the password is written in as a
            # literal, quoted by psycopg.
            self.run(
                connection.ops.compose_sql(f"ALTER ROLE {quoted(name)} PASSWORD %s", [password])
            )
            self.say(f"role {name}: password set")

    def not_member(self, app: str, owner: str) -> None:
        """The application must not act as the owner through a membership."""
        self.run(
            "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid"
            " WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = %s)",
            [app],
        )
        for (granted,) in self.cursor.fetchall():
            self.run(f"REVOKE {quoted(granted)} FROM {quoted(app)}")
            self.say(f"role {app}: no longer a member of {granted}")

    def owner(self, owner: str) -> None:
        """The owner may create in the schema and owns what is there."""
        self.run(f"GRANT USAGE, CREATE ON SCHEMA {SCHEMA} TO {quoted(owner)}")
        self.run(
            "SELECT c.relname, c.relkind, pg_get_userbyid(c.relowner) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind::text = ANY(%s) AND c.relowner <> "
            f"(SELECT oid FROM pg_roles WHERE rolname = %s) AND {OWN.format(oid='c.oid')}"
            " ORDER BY c.relname",
            [SCHEMA, list(KINDS), owner],
        )
        for name, kind, was in self.cursor.fetchall():
            self.run(f"ALTER {KINDS[kind].upper()} {quoted(name)} OWNER TO {quoted(owner)}")
            self.say(f"{KINDS[kind]} {name}: owner {was} → {owner}")
        # Sequences no table owns (a table's own sequences moved with it).
        self.run(
            "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind = 'S' AND c.relowner <> "
            f"(SELECT oid FROM pg_roles WHERE rolname = %s) AND {OWN.format(oid='c.oid')}"
            " ORDER BY c.relname",
            [SCHEMA, owner],
        )
        for name, was in self.cursor.fetchall():
            self.run(f"ALTER SEQUENCE {quoted(name)} OWNER TO {quoted(owner)}")
            self.say(f"sequence {name}: owner {was} → {owner}")
        self.run(
            "SELECT p.oid::regprocedure::text, pg_get_userbyid(p.proowner) FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = %s AND p.proowner <> (SELECT oid FROM pg_roles WHERE rolname = %s)"
            f" AND {OWN.format(oid='p.oid')} ORDER BY 1",
            [SCHEMA, owner],
        )
        for signature, was in self.cursor.fetchall():
            self.run(f"ALTER FUNCTION {signature} OWNER TO {quoted(owner)}")
            self.say(f"function {signature}: owner {was} → {owner}")

    def grants(self, owner: str, app: str) -> None:
        audit = quoted(AuditEvent._meta.db_table)
        o, a = quoted(owner), quoted(app)
        # Before PostgreSQL 15 every role may create in `public`; the application may not.
        self.run(f"REVOKE CREATE ON SCHEMA {SCHEMA} FROM PUBLIC")
        self.run(f"REVOKE CREATE ON SCHEMA {SCHEMA} FROM {a}")
        self.run(f"GRANT USAGE ON SCHEMA {SCHEMA} TO {a}")
        self.run(f"REVOKE ALL ON ALL TABLES IN SCHEMA {SCHEMA} FROM {a}")
        self.run(f"GRANT {APP_TABLE_PRIVILEGES} ON ALL TABLES IN SCHEMA {SCHEMA} TO {a}")
        self.run("SELECT to_regclass(%s)", [AuditEvent._meta.db_table])
        if self.cursor.fetchone()[0]:
            self.run(f"REVOKE ALL ON {audit} FROM {a}")
            self.run(f"GRANT {AUDIT_PRIVILEGES} ON {audit} TO {a}")
        else:  # before the first migrate: migration ims 0005 takes back all but these
            self.say(f"{AuditEvent._meta.db_table} is not created yet: run migrate as {owner}")
        self.run(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {SCHEMA} TO {a}")
        self.run(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {SCHEMA}"
            f" GRANT {APP_TABLE_PRIVILEGES} ON TABLES TO {a}"
        )
        self.run(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {SCHEMA}"
            f" GRANT USAGE, SELECT ON SEQUENCES TO {a}"
        )
        self.say(
            f"role {app}: {APP_TABLE_PRIVILEGES} on every table in {SCHEMA} (and on tables "
            f"{owner} creates later), {AUDIT_PRIVILEGES} only on {AuditEvent._meta.db_table}, "
            "USAGE on sequences"
        )
