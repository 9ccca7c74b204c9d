"""`import_stream`: one file read record by record, validated outside the writer, written CHUNK_ROWS
per transaction; the same core for the CLI and `PUT /v1/shops/{shop}/catalog`."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from typing import IO, cast

from .csv_feed import csv_records
from .fields import RowContext, rejected_id, row_params
from .jsonl_feed import jsonl_records
from .result import BadLine, CatalogError, ImportResult, Record, Reject, Stop
from .source import ByteReader, detect_format, normalize_format
from .writer import PendingRow, Writer, connection_writer, create_seen, drop_seen, mark_unavailable, write_chunk
from .xml_feed import xml_records

CHUNK_ROWS = 500  # rows per write transaction

_READERS: dict[str, Callable[[ByteReader], Iterator[Record | BadLine]]] = {
    "csv": csv_records, "jsonl": jsonl_records, "xml": xml_records}


def import_stream(
    writer: sqlite3.Connection | Writer,
    shop_id: str,
    binary_file: IO[bytes],
    fmt: str | None = None,
    full: bool = False,
    default_currency: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Import a product feed read from `binary_file` into the shop's products.

    `writer` is a sqlite3 connection (autocommit mode: each chunk gets its own transaction) or a
    callable `writer(fn, *args)` running `fn(conn, *args)` in a committed transaction (the server
    passes one that goes through `Database.write`). `progress(bytes_read, rows)` is called now and
    then. Raises CatalogError when the file is refused whole (nothing written then).
    """
    # A connection (sqlite3's, or the PostgreSQL wrapper with its calls) has `execute`; a writer does not.
    write = connection_writer(cast(sqlite3.Connection, writer)) if hasattr(writer, "execute") else writer
    src = ByteReader(binary_file)
    fmt = normalize_format(fmt) or detect_format(src)
    result = ImportResult(format=fmt)
    ctx = RowContext(fmt=fmt, default_currency=default_currency)
    records = _READERS[fmt](src)
    table = "catalog_seen_" + uuid.uuid4().hex
    pending: list[PendingRow] = []
    seen_ids = 0

    def flush() -> None:
        nonlocal seen_ids
        if not pending:
            return
        created, updated, new_ids, duplicates = write(write_chunk, shop_id, table, list(pending), time.time())
        pending.clear()
        result.created += created
        result.updated += updated
        seen_ids += new_ids
        for line, pid, first in duplicates:
            result.reject(line, pid, f"duplicate id: already on line {first}" if first else "duplicate id", "id")

    write(create_seen, table)
    try:
        try:
            for rec in records:
                if isinstance(rec, BadLine):
                    result.rows += 1
                    result.reject(rec.line, None, rec.reason, rec.fld)
                else:
                    if result.rows == 0 and "id" not in rec.values:
                        found = ", ".join(sorted(rec.values)) or "none of id, title, price, link, …"
                        hint = (" (is xmlns:g=\"http://base.google.com/ns/1.0\" declared, with a g:id per item?)"
                                if fmt == "xml" else "")
                        raise CatalogError(f"id: the first product (line {rec.line}) has no id{hint}; "
                                           f"fields recognised: {found}", field="id")
                    result.rows += 1
                    try:
                        pid, params = row_params(rec.values, ctx)
                    except Reject as exc:
                        rid = rejected_id(rec.values)
                        result.reject(rec.line, rid, exc.reason, exc.field)
                        if rid is not None:
                            pending.append((rec.line, rid, None))
                    except Exception as exc:  # noqa: BLE001 - a value no rule foresaw: reject the row, never fail the file
                        result.reject(rec.line, rejected_id(rec.values), f"cannot be read ({type(exc).__name__})")
                    else:
                        pending.append((rec.line, pid, params))
                if len(pending) >= CHUNK_ROWS:
                    flush()
                if progress is not None and result.rows % 256 == 0:
                    progress(src.pos, result.rows)
        except Stop as stop:
            result.complete = False
            note = "; the rest of the file was not imported" + ("; full was not applied" if full else "")
            result.reject(stop.line, None, stop.message + note)
        flush()
        if full and result.rows == 0 and result.complete:
            raise CatalogError("body: the feed has no products; with full=true every product would become unavailable")
        if full and result.complete:
            unavailable = write(mark_unavailable, shop_id, table, seen_ids, time.time())
            if unavailable < 0:
                result.complete = False  # noted, not counted: no row was rejected
                result.rejections.append({"line": None, "id": None, "field": None,
                                          "reason": "full was not applied: the import lost track of the feed's ids"})
            else:
                result.unavailable = unavailable
    finally:
        try:
            write(drop_seen, table)
        except Exception:  # noqa: BLE001  # pragma: no cover - a temp table dies with its connection anyway
            pass
    if progress is not None:
        progress(src.pos, result.rows)
    result.rejections.sort(key=lambda r: (r["line"] is None, r["line"] or 0))
    return result
