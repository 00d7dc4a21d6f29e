"""Bulk inserts that skip rows already present, fast on both backends.

Ingest writes up to millions of rows, so this path avoids per-value work SQLAlchemy would repeat.
Values are converted by SQLAlchemy's own bind processors (so they read back exactly as ORM-written
values do), memoised per column because most repeat (timestamps, statuses), and JSON is encoded
with orjson; rows are built column by column, in chunks.

- SQLite: one `INSERT ... ON CONFLICT DO NOTHING` compiled by SQLAlchemy, every value bound,
  run with the driver's `executemany` on the session's connection, in a writer thread: sqlite3
  releases the GIL while SQLite works, so the next batch is encoded meanwhile. The driver sums
  the rows each statement inserted.
- PostgreSQL: `COPY` into a temporary table with the target's column types (no constraints), then
  one `INSERT ... SELECT ... ORDER BY <copy order> ON CONFLICT DO NOTHING`, so ids follow the
  input order. COPY streams rows without a statement per batch, cheaper per row than the
  `unnest` arrays it replaces (bench/ingest_throughput.py --postgres).

A JSON column's values may also come already encoded, as `JSONText`: ingest builds the text of
millions of objects column by column (`campaigner.contacts.cell_json`), without a dict per row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from itertools import chain, repeat
from typing import Any, TypeVar, overload

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlmodel import Session

from campaigner.store.errors import StoreError

__all__ = [
    "JSONText",
    "bulk_insert",
    "bulk_insert_column_chunks",
    "bulk_insert_columns",
    "chunks",
    "json_text",
]

Encoder = Callable[[Any], Any]
ColumnEncoder = Callable[[Sequence[Any]], Iterable[Any]]
_T = TypeVar("_T")


class JSONText(Sequence[str | None]):
    """The values of a JSON column already encoded as JSON text, one per row (None for NULL).

    Inserted as they are; slices stay `JSONText`, so a bulk insert can batch them.
    """

    __slots__ = ("texts",)

    def __init__(self, texts: Sequence[str | None]) -> None:
        self.texts = texts

    def __len__(self) -> int:
        return len(self.texts)

    @overload
    def __getitem__(self, index: int) -> str | None: ...

    @overload
    def __getitem__(self, index: slice) -> JSONText: ...

    def __getitem__(self, index: int | slice) -> str | JSONText | None:
        if isinstance(index, slice):
            return JSONText(self.texts[index])
        return self.texts[index]


def json_text(value: Any) -> str:
    """A value as the JSON text the store writes for it."""
    return orjson.dumps(value).decode()


def bulk_insert(
    session: Session,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    conflict: Sequence[str],
    batch_size: int,
) -> int:
    """Insert `rows` (tuples in `columns` order) in chunks, skipping rows that would violate the
    unique `conflict` columns. Returns how many rows were inserted.
    """
    values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    return bulk_insert_columns(
        session,
        table,
        dict(zip(columns, values, strict=True)),
        conflict=conflict,
        batch_size=batch_size,
    )


def bulk_insert_columns(
    session: Session,
    table: sa.Table,
    columns: Mapping[str, Sequence[Any]],
    *,
    constants: Mapping[str, Any] | None = None,
    conflict: Sequence[str],
    batch_size: int,
) -> int:
    """Insert rows given column by column, like `bulk_insert`: `columns` maps each column name to
    its values (one per row, all of the same length); `constants` are columns with one value for
    every row, converted once.
    """
    return bulk_insert_column_chunks(
        session, table, [columns], constants=constants, conflict=conflict, batch_size=batch_size
    )


def bulk_insert_column_chunks(
    session: Session,
    table: sa.Table,
    column_chunks: Iterable[Mapping[str, Sequence[Any]]],
    *,
    constants: Mapping[str, Any] | None = None,
    conflict: Sequence[str],
    batch_size: int,
) -> int:
    """`bulk_insert_columns` for rows that arrive in chunks (each with the same columns), so the
    caller can build the next chunk while the database inserts the last one.

    On SQLite the statements run in a writer thread on the session's connection: sqlite3 releases
    the GIL while SQLite inserts, so encoding the next batch (and building the next chunk, since
    the chunks are consumed lazily) overlaps with the insert. Building a chunk must therefore not
    use the session.
    """
    checked = _checked_chunks(table, column_chunks)
    dialect = session.get_bind().dialect
    if dialect.name == "sqlite":
        return _sqlite_insert(session, table, checked, constants or {}, conflict, batch_size)
    if dialect.name == "postgresql":
        return _postgres_insert(session, table, checked, constants or {}, conflict, batch_size)
    raise StoreError(f"unsupported database dialect {dialect.name!r}")


def _checked_chunks(
    table: sa.Table, column_chunks: Iterable[Mapping[str, Sequence[Any]]]
) -> Iterator[Mapping[str, Sequence[Any]]]:
    """The chunks, each checked: columns of equal length, the same columns as the first chunk."""
    names: list[str] | None = None
    for columns in column_chunks:
        lengths = {name: len(values) for name, values in columns.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"bulk insert into {table.name}: columns of unequal length {lengths}")
        if names is None:
            names = list(columns)
        elif list(columns) != names:
            raise ValueError(f"bulk insert into {table.name}: chunks with other columns")
        yield columns


def chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _encode_json_column(values: Sequence[Any]) -> Sequence[str | None]:
    if isinstance(values, JSONText):
        return list(values.texts)
    dumps = orjson.dumps
    return [None if value is None else dumps(value).decode() for value in values]


def _memoised(processor: Encoder) -> Encoder:
    cache: dict[Any, Any] = {}

    def encode(value: Any) -> Any:
        try:
            return cache[value]
        except KeyError:
            cache[value] = encoded = processor(value)
            return encoded

    return encode


def _encoder(table: sa.Table, name: str, dialect: Dialect) -> ColumnEncoder | None:
    """The converter for a column whose values the driver cannot take as they are, if any."""
    column_type = table.c[name].type
    if isinstance(column_type, sa.JSON):
        return _encode_json_column
    processor = column_type.dialect_impl(dialect).bind_processor(dialect)
    if processor is None:
        return None
    encode = _memoised(processor)
    return lambda values: map(encode, values)


def _driver_constants(
    table: sa.Table, dialect: Dialect, constants: Mapping[str, Any]
) -> dict[str, Any]:
    """The constant columns' values converted for the driver, each once."""
    driver: dict[str, Any] = {}
    for name, value in constants.items():
        encode = _encoder(table, name, dialect)
        driver[name] = value if encode is None else next(iter(encode([value])))
    return driver


def _encoded_rows(
    table: sa.Table,
    dialect: Dialect,
    column_chunks: Iterable[Mapping[str, Sequence[Any]]],
    fixed: Mapping[str, Any],
    batch_size: int,
) -> Iterator[list[tuple[Any, ...]]]:
    """The rows as tuples of driver values (chunk columns, then the `fixed` driver values), in
    chunks."""
    encoders: dict[str, ColumnEncoder | None] = {}
    repeats = [repeat(value) for value in fixed.values()]
    for columns in column_chunks:
        count = len(next(iter(columns.values())))
        for start in range(0, count, batch_size):
            # Column by column: the loops run in C (slices, map, zip), not per value in Python.
            batch: list[Iterable[Any]] = []
            for name, values in columns.items():
                part = values[start : start + batch_size]
                if name not in encoders:
                    encoders[name] = _encoder(table, name, dialect)
                encode = encoders[name]
                batch.append(part if encode is None else encode(part))
            # The fixed columns are endless repeats: zip stops at the end of the batch.
            yield list(zip(*batch, *repeats, strict=False))


def _sqlite_insert(
    session: Session,
    table: sa.Table,
    column_chunks: Iterator[Mapping[str, Sequence[Any]]],
    constants: Mapping[str, Any],
    conflict: Sequence[str],
    batch_size: int,
) -> int:
    first = next(column_chunks, None)
    if first is None:
        return 0
    connection = session.connection()
    fixed = _driver_constants(table, connection.dialect, constants)
    sql = _sqlite_statement(table, [*first, *fixed], conflict)
    chunks = _encoded_rows(
        table, connection.dialect, chain([first], column_chunks), fixed, batch_size
    )
    # The driver's own cursor on the session's connection, so in the session's transaction.
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    inserted = 0
    try:
        with (
            _sqlalchemy_errors(connection.dialect, sql),
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="bulk-insert") as writer,
        ):
            running: Future[int] | None = None
            for params in chunks:
                if running is not None:
                    inserted += running.result()
                running = writer.submit(_execute_many, cursor, sql, params)
            if running is not None:
                inserted += running.result()
    finally:
        cursor.close()
    return inserted


def _sqlite_statement(table: sa.Table, names: Sequence[str], conflict: Sequence[str]) -> str:
    """SQLAlchemy's `INSERT ... ON CONFLICT DO NOTHING` of one row of the columns `names`, in that
    order, into `table`, every value a `?` for the driver's `executemany`.

    Compiled against the columns alone, not `table`: the table's Python-side defaults would add
    columns whose values SQLAlchemy fills in as it executes, and the driver executes this."""
    target = sa.table(table.name, *(sa.column(name) for name in names))
    statement = sqlite.insert(target).on_conflict_do_nothing(index_elements=list(conflict))
    return statement.compile(dialect=sqlite.dialect(), column_keys=list(names)).string


@contextmanager
def _sqlalchemy_errors(dialect: Dialect, statement: str) -> Iterator[None]:
    """Driver errors raised as SQLAlchemy's (`IntegrityError`, `OperationalError`, ...), as its
    own execute raises them: callers (the CLI among them) catch those. Parameters are left out."""
    driver_error = dialect.loaded_dbapi.Error
    try:
        yield
    except driver_error as error:
        raise sa.exc.DBAPIError.instance(statement, None, error, driver_error) from error


def _execute_many(cursor: Any, sql: str, params: list[tuple[Any, ...]]) -> int:
    """Run one statement for every row of `params`; how many rows it inserted."""
    cursor.executemany(sql, params)
    inserted: int = cursor.rowcount
    return inserted


def _postgres_insert(
    session: Session,
    table: sa.Table,
    column_chunks: Iterator[Mapping[str, Sequence[Any]]],
    constants: Mapping[str, Any],
    conflict: Sequence[str],
    batch_size: int,
) -> int:
    first = next(column_chunks, None)
    if first is None:
        return 0
    connection = session.connection()
    quote = connection.dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in [*first, *constants])
    target = quote(table.name)
    # Always named in the session's own temporary schema, never a table of the database.
    staging = f"pg_temp.{quote(f'bulk_{table.name}')}"
    fixed = _driver_constants(table, connection.dialect, constants)
    chunks = _encoded_rows(
        table, connection.dialect, chain([first], column_chunks), fixed, batch_size
    )
    # Identifiers come from the table's own metadata and are quoted; values are copied.
    with (
        _sqlalchemy_errors(connection.dialect, f"COPY {staging} and INSERT INTO {target}"),
        connection.connection.driver_connection.cursor() as cursor,  # type: ignore[union-attr]
    ):
        # The target's column types without its constraints, and the rows' order, so ids are
        # given in input order.
        cursor.execute(f"DROP TABLE IF EXISTS {staging}")
        cursor.execute(
            f"CREATE TEMP TABLE {staging} ON COMMIT DROP AS "  # noqa: S608
            f"SELECT {columns} FROM {target} WITH NO DATA"
        )
        cursor.execute(f"ALTER TABLE {staging} ADD COLUMN bulk_position bigserial")
        with cursor.copy(f"COPY {staging} ({columns}) FROM STDIN") as copy:
            for rows in chunks:
                for row in rows:
                    copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {target} ({columns}) "  # noqa: S608
            f"SELECT {columns} FROM {staging} ORDER BY bulk_position "
            f"ON CONFLICT ({', '.join(quote(name) for name in conflict)}) DO NOTHING"
        )
        inserted: int = cursor.rowcount
        cursor.execute(f"DROP TABLE {staging}")
    return inserted
