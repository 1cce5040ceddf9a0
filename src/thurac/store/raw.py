"""The hot statements, compiled once per dialect and run on the driver's own connection.

Under smtp-source load most of the history read's and the recorder's CPU was SQLAlchemy's
per-statement work (the cache key, parameter processing, result wrapping), not the
database's (docs/performance.md, "Where thurac's CPU goes"). The statements stay SQLAlchemy
expressions: each is compiled by the connection's dialect once, and its parameters go through
that dialect's own bind processors, so the driver receives exactly the SQL and the stored
forms (SQLite's DATETIME text) that SQLAlchemy itself would send. Only statements whose
results need no conversion (numbers and text) run here.

Errors come back as SQLAlchemy's DBAPIError classes (OperationalError, IntegrityError, …),
and a connection the driver reports lost is invalidated, as SQLAlchemy does for its own
statements: callers keep one way of telling a database that is away from bad data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

_EXPANDING = re.compile(r"__\[POSTCOMPILE_(\w+)\]")


@dataclass(frozen=True, slots=True, eq=False)  # one per statement and dialect: by identity
class _Compiled:
    sql: str
    names: tuple[str, ...] | None  # positional paramstyles: the order; named ones: None
    defaults: Mapping[str, Any]  # literals' values
    processors: Mapping[str, Callable[[Any], Any]]
    expanding: tuple[str, ...]  # IN lists, rendered per length


@lru_cache(maxsize=64)
def _compiled(statement: ClauseElement, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
    """`keys`: the parameters given; an INSERT names those columns (and ones with a
    default), as SQLAlchemy compiles it for the same parameters."""
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    assert isinstance(compiled, SQLCompiler)
    processors = {}
    for name, bind in compiled.binds.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors[name] = process
    # Literals carry their values; columns with a Python-side default (which SQLAlchemy
    # fills in at execution) get it here, when the parameters leave them out.
    defaults = {name: bind.value for name, bind in compiled.binds.items()
                if name in compiled.params and not bind.required and bind.value is not None
                and not bind.expanding}
    for column in getattr(compiled, "insert_prefetch", ()):
        default = column.default
        if default is None or not default.is_scalar:
            raise NotImplementedError(f"column {column.key}: only scalar defaults")
        defaults[column.key] = default.arg
    positions = compiled.positiontup
    return _Compiled(compiled.string, tuple(positions) if positions is not None else None,
                     defaults, processors, tuple(_EXPANDING.findall(compiled.string)))


@lru_cache(maxsize=256)
def _expanded(compiled: _Compiled, lengths: tuple[int, ...],
              paramstyle: str) -> tuple[str, tuple[str, ...] | None]:
    """The SQL and parameter order with each IN list given `lengths` placeholders."""
    sizes = dict(zip(compiled.expanding, lengths, strict=True))

    def placeholders(match: re.Match[str]) -> str:
        name = match.group(1)
        if paramstyle == "qmark":
            return ", ".join("?" * sizes[name])
        if paramstyle == "format":
            return ", ".join(["%s"] * sizes[name])
        return ", ".join(f"%({name}_{i})s" for i in range(sizes[name]))

    sql = _EXPANDING.sub(placeholders, compiled.sql)
    if compiled.names is None:
        return sql, None
    names: list[str] = []
    for name in compiled.names:
        names.extend([f"{name}_{i}" for i in range(sizes[name])] if name in sizes else [name])
    return sql, tuple(names)


def _bound(compiled: _Compiled, params: Mapping[str, Any]) -> dict[str, Any]:
    values = {**compiled.defaults, **params}
    for name, process in compiled.processors.items():
        if name in values and values[name] is not None:
            values[name] = process(values[name])
    for name in compiled.expanding:
        items = values.pop(name)
        if not items:
            raise ValueError(f"an empty IN list for {name!r}")  # callers ask only with some
        values.update({f"{name}_{i}": item for i, item in enumerate(items)})
    return values


def _prepared(conn: Connection, statement: ClauseElement, rows: Sequence[Mapping[str, Any]]
              ) -> tuple[str, list[Any]]:
    dialect = conn.dialect
    compiled = _compiled(statement, dialect, tuple(rows[0]) if rows else ())
    lengths = tuple(len(rows[0][n]) for n in compiled.expanding) if rows else ()
    sql, names = (_expanded(compiled, lengths, dialect.paramstyle) if compiled.expanding
                  else (compiled.sql, compiled.names))
    bound = [_bound(compiled, row) for row in rows]
    if names is None:
        return sql, bound
    return sql, [tuple(values[n] for n in names) for values in bound]


def _driver_call(conn: Connection, sql: str, params: Any,
                 call: Callable[[Any], Any]) -> Any:
    """`call(cursor)` on the driver's connection; the driver's errors as SQLAlchemy's."""
    dbapi = conn.dialect.loaded_dbapi
    driver = conn.connection.driver_connection
    cursor = driver.cursor()  # type: ignore[union-attr]
    try:
        return call(cursor)
    except dbapi.Error as exc:
        lost = conn.dialect.is_disconnect(exc, driver, cursor)
        if lost:
            conn.invalidate(exc)
        raise DBAPIError.instance(sql, params, exc, dbapi.Error,
                                  connection_invalidated=lost, dialect=conn.dialect) from exc
    finally:
        cursor.close()


def rows(conn: Connection, statement: ClauseElement,
         params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """The rows of one SELECT (or INSERT … RETURNING), as the driver returns them."""
    sql, (bound,) = _prepared(conn, statement, [params])
    return _driver_call(conn, sql, bound, lambda c: (c.execute(sql, bound), c.fetchall())[1])  # type: ignore[no-any-return]


def execute_many(conn: Connection, statement: ClauseElement,
                 params: Iterable[Mapping[str, Any]]) -> None:
    """One statement for many parameter sets (the driver's executemany)."""
    batch = list(params)
    if not batch:
        return
    sql, bound = _prepared(conn, statement, batch)
    _driver_call(conn, sql, bound, lambda c: c.executemany(sql, bound))


def insert_ids(conn: Connection, statement: ClauseElement,
               params: Iterable[Mapping[str, Any]]) -> list[int]:
    """The generated primary key of each row inserted, in order (the driver's lastrowid):
    for SQLite, where a row costs microseconds and executemany returns no ids."""
    sql, bound = _prepared(conn, statement, list(params))

    def each(cursor: Any) -> list[int]:
        ids = []
        for values in bound:
            cursor.execute(sql, values)
            ids.append(int(cursor.lastrowid))
        return ids

    return _driver_call(conn, sql, bound, each)  # type: ignore[no-any-return]
