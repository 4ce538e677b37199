"""Plain statements for a handful of model rows, without the ORM's compiling, and sent to the
database together.

The webhook path reads and writes a few rows in several tables per request. Building each
statement through the ORM costs ~0.2–1 ms of Python, ten times the statement itself, and
each statement is a round trip. These helpers write the values the ORM would write (each
field's `pre_save` and `get_db_prep_save`, so defaults, auto_now, JSON and binary fields
are adapted for the backend), build instances as the ORM builds them, and let a caller
send several statements at once: on PostgreSQL one multi-statement query (one round trip;
Django's default client-side binding cursor interpolates the parameters), elsewhere one
after the other. Writes that do not read one another's go further (writes_run): one
statement of data-modifying WITH queries. Use them where a path is measured hot; the ORM
everywhere else.

On PostgreSQL each statement is also prepared once per connection (`PREPARE ims_n (types)
AS …`, sent with its first use) and then run as `EXECUTE ims_n(values)`: the server parses,
analyses and plans it once instead of on every request, which was ~40 % of PostgreSQL's
time on a webhook order. Turn this off with IMS_DB_PREPARE=0 where connections are shared
between sessions (PgBouncer in transaction mode), which keeps no prepared statements.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache, lru_cache

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models import Model
from django.db.models.base import ModelState
from psycopg.adapt import Transformer
from psycopg.types.json import Jsonb


@dataclass
class Statement:
    """One SQL statement and its parameters; `objs` are instances whose primary keys it
    returns, in order (an INSERT … RETURNING); `returns_rows` is False for one that returns
    no rows (an UPDATE)."""

    sql: str
    params: list
    objs: Sequence[Model] = field(default=())
    returns_rows: bool = True


def _db():
    """The connection itself (not django.db.connection, a proxy that costs a lookup on
    every attribute)."""
    return connections[DEFAULT_DB_ALIAS]


@cache
def _insert_sql(model: type[Model], rows: int, unique: tuple[str, ...], vendor: str) -> str:
    db = _db()
    meta = model._meta
    quote = db.ops.quote_name
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES {', '.join([row] * rows)}"
    )
    if unique:
        columns = ", ".join(quote(meta.get_field(name).column) for name in unique)
        sql += f" ON CONFLICT ({columns}) DO NOTHING"
    return f"{sql} RETURNING {quote(meta.pk.column)}"


def insert_statement(objs: Sequence[Model], *, unique: Sequence[str] = ()) -> Statement:
    """INSERT these instances of one model, RETURNING their primary keys.

    With `unique` (field names of a unique constraint) a row that would break it is skipped
    (ON CONFLICT … DO NOTHING, which waits for a concurrent insert of the same key to
    commit) and keeps no primary key; this form takes one instance at a time.
    """
    if unique and len(objs) != 1:
        raise ValueError("an insert that skips conflicts takes one row at a time")
    db = _db()
    model = type(objs[0])
    params = [
        value
        if plain is not None
        and (
            value is None
            or (type(value) is plain and (plain is not dt.datetime or value.tzinfo is not None))
        )
        else f.get_db_prep_save(f.pre_save(obj, True), db)
        for obj in objs
        for f, plain in _insert_fields(model, db.vendor)
        for value in [getattr(obj, f.attname)]
    ]
    return Statement(_insert_sql(model, len(objs), tuple(unique), db.vendor), params, objs)


# Fields whose value the database takes as it is when it already has this exact Python type
# (their pre_save and get_db_prep_save return it unchanged), which saves their calls; a
# datetime only on PostgreSQL (SQLite stores Django's own text for it), when it is aware and
# the field sets none itself (auto_now, auto_now_add).
_PLAIN = {
    models.CharField: str,
    models.TextField: str,
    models.IntegerField: int,
    models.SmallIntegerField: int,
    models.BigIntegerField: int,
    models.PositiveIntegerField: int,
    models.PositiveSmallIntegerField: int,
    models.PositiveBigIntegerField: int,
    models.BooleanField: bool,
}


@cache
def _insert_fields(model: type[Model], vendor: str) -> list[tuple]:
    """(field, the Python type it takes as it is, or None) for each column an INSERT writes."""
    found = []
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        plain = _PLAIN.get(type(f))
        if (
            vendor == "postgresql"
            and type(f) is models.DateTimeField
            and not (f.auto_now or f.auto_now_add)
        ):
            plain = dt.datetime
        if isinstance(f, models.ForeignKey) and type(f.target_field) in (
            models.AutoField,
            models.BigAutoField,
        ):
            plain = int
        found.append((f, plain))
    return found


@cache
def _update_sql(model: type[Model], fields: tuple[str, ...], vendor: str) -> str:
    db = _db()
    meta = model._meta
    quote = db.ops.quote_name
    return (
        f"UPDATE {quote(meta.db_table)} SET "
        + ", ".join(f"{quote(meta.get_field(name).column)} = %s" for name in fields)
        + f" WHERE {quote(meta.pk.column)} = %s"
    )


def update_statement(obj: Model, fields: Sequence[str]) -> Statement:
    """UPDATE … SET <fields> WHERE pk = obj.pk, with the instance's values."""
    db = _db()
    meta = obj._meta
    params = [f.get_db_prep_save(f.pre_save(obj, False), db) for f in map(meta.get_field, fields)]
    return Statement(
        _update_sql(type(obj), tuple(fields), db.vendor), [*params, obj.pk], returns_rows=False
    )


def _together(db) -> bool:
    """Whether several statements can go as one query: PostgreSQL with client-side binding."""
    return db.vendor == "postgresql" and not db.settings_dict["OPTIONS"].get("server_side_binding")


def statements_run(statements: Sequence[Statement]) -> list[list[tuple]]:
    """Run the statements in order (in the caller's transaction) and return each one's rows
    ([] for a statement that returns none); returned primary keys are set on `objs`.
    An error in any of them raises, and the caller's transaction rolls back as usual.

    On PostgreSQL they go as one query of prepared statements (see the module's note).
    """
    db = _db()
    results: list[list[tuple]] = []
    with db.cursor() as cursor:
        if _together(db):
            kinds = _send_together(db, cursor, statements)
            for s in kinds:
                if s is not None:
                    results.append(cursor.fetchall() if s.returns_rows else [])
                cursor.nextset()
        else:
            for s in statements:
                cursor.execute(s.sql, s.params)
                results.append(cursor.fetchall() if s.returns_rows else [])
    for s, rows in zip(statements, results, strict=True):
        if s.objs:
            _keys_set(db, s.objs, [row[0] for row in rows])
    return results


def _keys_set(db, objs: Sequence[Model], keys: Sequence) -> None:
    """The primary keys an INSERT returned, set on its instances (none if it skipped one)."""
    if len(keys) == len(objs):
        for obj, key in zip(objs, keys, strict=True):
            obj.pk = key
            obj._state.adding = False
            obj._state.db = db.alias


def writes_run(statements: Sequence[Statement]) -> list[list]:
    """Run INSERT … RETURNING pk and UPDATE statements (as insert_statement and
    update_statement make them, or an UPDATE … RETURNING pk) that do not read one another's
    writes, and set the keys returned on `objs`, as statements_run does. Returns each
    statement's returned keys, in key order ([] for one that returns none).

    On PostgreSQL they go as one statement, each of them a data-modifying WITH query: the
    server parses, plans, starts and ends one statement instead of one per write, and one
    result row comes back (each statement's keys as an array, in key order, which for an
    INSERT is the rows' order: keys come from a sequence). As in any one statement, each
    sees the database as it was before them all, hence the rule above. Elsewhere they run
    one after the other.
    """
    for s in statements:
        if not s.sql.startswith(("INSERT ", "UPDATE ", "WITH ")):
            raise ValueError(f"writes_run takes inserts and updates, not {s.sql[:40]!r}")
    db = _db()
    if len(statements) < 2 or not _together(db):
        results = statements_run(statements)
        return [sorted(row[0] for row in rows) for rows in results]
    sql = _writes_sql(tuple(s.sql for s in statements), tuple(s.returns_rows for s in statements))
    (row,) = statements_run([Statement(sql, [p for s in statements for p in s.params])])[0]
    arrays = iter(row)  # one per statement that returns keys, in order
    returned = [next(arrays) if s.returns_rows else [] for s in statements]
    for s, keys in zip(statements, returned, strict=True):
        _keys_set(db, s.objs, keys)
    return returned


@lru_cache(maxsize=512)
def _writes_sql(sqls: tuple[str, ...], returning: tuple[bool, ...]) -> str:
    withs = ", ".join(f"w{i} AS ({sql})" for i, sql in enumerate(sqls))
    keys = [f"ARRAY(SELECT * FROM w{i} ORDER BY 1)" for i, r in enumerate(returning) if r]
    return f"WITH {withs} SELECT {', '.join(keys) or 'NULL'}"


# Prepared statements kept per connection, at most this many (then statements run unprepared).
PREPARED_MAX = 500


class _Prepared:
    """The statements prepared on one PostgreSQL session: (sql, its values' Python types) →
    name."""

    def __init__(self, raw):
        self.raw = raw  # the psycopg connection (a new one is a new session)
        self.names: dict[tuple[str, tuple[type, ...]], bytes] = {}
        self.unsure = False  # a batch failed: which of its PREPAREs ran is not known


def _send_together(db, cursor, statements: Sequence[Statement]) -> list[Statement | None]:
    """Send the statements as one query; returns what each of its results is: a statement,
    or None for a result to skip (PREPARE, DEALLOCATE).

    Each value is written as a literal (_literal), without psycopg parsing the query for
    placeholders (it caches that parsing only for statements of at most 50 values)."""
    if not settings.IMS_DB_PREPARE:
        mogrify = cursor.cursor.mogrify
        cursor.execute("; ".join(mogrify(s.sql, s.params) for s in statements))
        return list(statements)
    kept = db.__dict__.get("_ims_prepared")
    if kept is None or kept.raw is not db.connection:
        kept = db.__dict__["_ims_prepared"] = _Prepared(db.connection)
    adapted = Transformer.from_context(cursor.cursor).as_literal
    # After a failed query, start afresh: which of its PREPAREs ran is not known.
    restart = kept.unsure
    known = {} if restart else kept.names
    new: dict[tuple[str, tuple[type, ...]], bytes] = {}  # kept once the query is sent
    parts: list[bytes] = [b"DEALLOCATE ALL"] if restart else []
    kinds: list[Statement | None] = [None] if restart else []
    with db.wrap_database_errors:  # a value psycopg refuses (a NUL in a text) as Django's error
        for s in statements:
            # Prepared once for each set of value types (None included: it is typed apart).
            key = (s.sql, tuple(map(type, s.params)))
            name = known.get(key) or new.get(key)
            if name is None and len(known) + len(new) < PREPARED_MAX:
                name = new[key] = f"ims_{len(known) + len(new)}".encode()
                types = f"({', '.join(map(_pg_type, s.params))})".encode() if s.params else b""
                parts.append(b"PREPARE %s%s AS %s" % (name, types, _numbered(s.sql)))
                kinds.append(None)
            if name is None:
                parts.append(cursor.cursor.mogrify(s.sql, s.params).encode())
            elif s.params:
                # Integers and NULLs, the most common values, written inline.
                values = b", ".join(
                    [
                        b"%d" % v
                        if type(v) is int
                        else b"NULL"
                        if v is None
                        else _literal(v, adapted)
                        for v in s.params
                    ]
                )
                parts.append(b"EXECUTE %s(%s)" % (name, values))
            else:
                parts.append(b"EXECUTE " + name)
            kinds.append(s)
    try:
        cursor.execute(b"; ".join(parts))
    except Exception:
        kept.unsure = True
        raise
    if restart:
        kept.names, kept.unsure = new, False
    else:
        kept.names.update(new)
    return kinds


_PLACEHOLDER = re.compile(r"%%|%s")


@cache
def _numbered(sql: str) -> bytes:
    """A statement with psycopg's %s placeholders as PostgreSQL's $1, $2, … (and %% as %)."""
    counter = iter(range(1, sql.count("%s") + 1))
    return _PLACEHOLDER.sub(
        lambda m: "%" if m.group() == "%%" else f"${next(counter)}", sql
    ).encode()


def _literal(value, adapted) -> bytes:
    """A value other than an int or None (_send_together writes those inline) as an SQL
    literal for EXECUTE, whose prepared parameter types (_pg_type) give it its type: the
    common plain values written here, anything else (strings with quotes, backslashes or
    NUL, JSON, bytes…) by psycopg's adapters (`adapted`), as its client-side binding writes
    them."""
    kind = type(value)
    if kind is str or isinstance(value, str):  # a model's choices are str subclasses
        if "'" in value or "\\" in value or "\x00" in value:
            return adapted(str(value))
        return b"'" + value.encode() + b"'"
    if kind is bool:
        return b"true" if value else b"false"
    if kind is dt.datetime or kind is Decimal:
        return b"'" + str(value).encode() + b"'"
    return adapted(value)


# The parameter types a prepared statement declares, by the Python type of the value. Strings
# (and anything else) stay `unknown`, typed by where they stand as a quoted literal would be.
_PG_TYPES = {
    int: "int8",
    bool: "bool",
    float: "float8",
    Decimal: "numeric",
    dt.date: "date",
    dt.time: "time",
    dt.timedelta: "interval",
    bytes: "bytea",
    memoryview: "bytea",
    uuid.UUID: "uuid",
    Jsonb: "jsonb",
    # Django's datetime columns are all timestamptz; a naive value is read in the session's
    # time zone, as when psycopg binds it.
    dt.datetime: "timestamptz",
}


def _pg_type(value) -> str:
    return _PG_TYPES.get(type(value), "unknown")


def rows_insert(objs: Sequence[Model], *, unique: Sequence[str] = ()) -> list[Model]:
    """Insert instances of one model in one statement and set their primary keys; returns
    those inserted (with `unique`, a row that conflicts is skipped: see insert_statement)."""
    if not objs:
        return []
    statements_run([insert_statement(objs, unique=unique)])
    return [obj for obj in objs if obj.pk is not None]


def row_update(obj: Model, fields: Sequence[str]) -> None:
    """UPDATE … SET <fields> WHERE pk = obj.pk, with the instance's values."""
    statements_run([update_statement(obj, fields)])


def select_statement(
    model: type[Model], where: str, params: Sequence, *, order_by: str = "", for_update=False
) -> Statement:
    """SELECT every column of `model` … WHERE <where> (SQL over its own columns); FOR UPDATE
    where the database has it. Turn the rows into instances with `instances`."""
    return Statement(_select_sql(model, where, order_by, for_update, _db().vendor), list(params))


@lru_cache(maxsize=512)
def _select_sql(model: type[Model], where: str, order_by: str, for_update: bool, vendor: str):
    db = _db()
    meta = model._meta
    quote = db.ops.quote_name
    sql = (
        f"SELECT {', '.join(quote(f.column) for f in meta.concrete_fields)} "
        f"FROM {quote(meta.db_table)} WHERE {where}"
    )
    if order_by:
        sql += f" ORDER BY {order_by}"
    if for_update and db.features.has_select_for_update:
        sql += " FOR UPDATE"
    return sql


def build[M: Model](model: type[M], /, **values) -> M:
    """A new, unsaved instance as `model(**values)` makes it (each field's default, then
    `values`), in a tenth of the time, for the hot paths that make several per request.

    `values` name fields by attribute (`order_id`) or, for a relation, by name with the
    related instance (`order=order`: sets `order_id` and keeps the instance, as the ORM
    does). No pre_init/post_init signals are sent (the models built here have none)."""
    obj = model.__new__(model)
    obj._state = ModelState()
    attrs = obj.__dict__
    defaults, calls, relations = _build_plan(model)
    attrs.update(defaults)
    for attname, default in calls:
        attrs[attname] = default()
    for name, value in values.items():
        relation = relations.get(name)
        if relation is None:
            if name not in defaults:
                raise TypeError(f"{model.__name__} has no field {name!r}")
            attrs[name] = value
        else:
            attrs[relation.attname] = None if value is None else value.pk
            relation.set_cached_value(obj, value)
    return obj


def clone[M: Model](obj: M) -> M:
    """A shallow copy of an instance, as copy.copy makes it (its own state and cache of
    related instances, the same field values), without pickling's round trip."""
    new = obj.__class__.__new__(obj.__class__)
    new.__dict__.update(obj.__dict__)
    new._state = state = ModelState()
    state.db, state.adding = obj._state.db, obj._state.adding
    state.fields_cache = dict(obj._state.fields_cache)
    return new


_IMMUTABLE = (type(None), str, int, bool, Decimal, float)


@cache
def _build_plan(model: type[Model]) -> tuple[dict, list, dict]:
    """(fixed defaults by attribute, (attribute, callable) for the others, relation fields
    by name) of a model's concrete fields."""
    defaults, calls, relations = {}, [], {}
    for f in model._meta.concrete_fields:
        default = f.get_default()
        if (f.has_default() and callable(f.default)) or not isinstance(default, _IMMUTABLE):
            calls.append((f.attname, f.get_default))
            defaults[f.attname] = None  # a valid name; set by its call
        else:
            defaults[f.attname] = default
        if f.is_relation:
            relations[f.name] = f
    return defaults, calls, relations


def instances[M: Model](model: type[M], rows: Sequence[tuple]) -> list[M]:
    """Instances built from rows of select_statement, as the ORM builds them."""
    db = _db()
    converters = _converters(model, db)
    found = []
    for row in rows:
        if converters:
            row = list(row)
            for i, f, converter in converters:
                row[i] = converter(row[i], f, db)
        found.append(model.from_db(db.alias, None, row))
    return found


def _converters(model: type[Model], db) -> list:
    """The fields of `model` whose values the backend converts when read, with their
    converters (bound to this thread's connection, so kept on it)."""
    kept = db.__dict__.setdefault("_ims_rows_converters", {})
    if model not in kept:
        meta = model._meta
        kept[model] = [
            (i, f, converter)
            for i, f in enumerate(meta.concrete_fields)
            for converter in (
                db.ops.get_db_converters(f.get_col(meta.db_table)) + f.get_db_converters(db)
            )
        ]
    return kept[model]


def rows_select[M: Model](
    model: type[M], where: str, params: Sequence, *, order_by: str = "", for_update=False
) -> list[M]:
    """Instances of `model` from one plain SELECT (see select_statement)."""
    statement = select_statement(model, where, params, order_by=order_by, for_update=for_update)
    return instances(model, statements_run([statement])[0])
