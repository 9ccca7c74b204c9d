"""Streaming product catalog import: CSV, JSON lines and Google Merchant Center RSS/Atom feeds.

One sync core, `import_stream`, serves both the CLI (`cartback catalog import`, writing through a
plain sqlite3 connection) and `PUT /v1/shops/{shop}/catalog` (parsing in a worker thread, writing
each chunk through `Database.write`). Nothing holds the whole file: rows are read one at a time,
validated outside the writer, and written `CHUNK_ROWS` per transaction.

Decisions a merchant can rely on:
- Imports are upserts with `source='catalog'`; catalog rows win over what browsers reported.
  A column the file does not have at all keeps what the row already holds; a column that is
  present but empty clears it. `in_stock` is always set: a product listed in the feed without
  availability information is available.
- Each bad row is rejected with its line number and the reason, and the import goes on. A file
  that cannot be a feed (no `id` column, not UTF-8 at the start, a DTD, not XML) is refused whole
  before anything is written. An error that stops a stream part-way (broken XML) keeps what was
  imported, reports the line, sets `complete: false` and skips `full`.
- A bare price ("249.90") takes the shop's currency only when the file has no currency column (in
  JSON lines: the object has no `currency` key). In a Google feed the currency is part of the price,
  as the spec requires, so a bare price there is rejected.
- `sale_price`, when given, is the price shown (it is what the product sells for now).
- The same id twice in one feed: the first row wins, later ones are rejected as duplicates.
- `full=True`: catalog products of the shop missing from this feed get `in_stock=0` (never deleted).
  Rows rejected for another reason still count as present, so a typo in one row does not hide the
  product. `full` is refused for a feed with no products, and skipped when the feed was not read to
  its end.
"""

from __future__ import annotations

import codecs
import csv
import functools
import json
import math
import os
import re
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser, ParseError

from .db import transaction
from .products import bump_catalog, products_of

MAX_LINE = 1 << 20  # bytes in one line (CSV, JSON lines) or one XML item's kept text
CHUNK_ROWS = 500  # rows per write transaction
MAX_LISTED_REJECTIONS = 1000  # rejections listed in the result; all are counted
MAX_ID = 64
MAX_NAME = 300
MAX_URL = 2048
MAX_CATEGORY = 750  # Google's limit for product_type
MAX_PRICE = 1e9
MAX_XML_DEPTH = 64
READ_BLOCK = 64 * 1024

G_NS = "http://base.google.com/ns/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"

FORMATS = {
    "csv": "csv", "tsv": "csv", "txt": "csv",
    "jsonl": "jsonl", "ndjson": "jsonl", "json": "jsonl",
    "xml": "xml", "rss": "xml", "atom": "xml", "google": "xml",
}

# Canonical field → accepted column names, best first.
ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "name": ("name", "title"),
    "price": ("price",),
    "sale_price": ("sale_price",),
    "currency": ("currency",),
    "url": ("url", "link"),
    "image": ("image", "image_link"),
    "category": ("category", "product_type", "google_product_category"),
    "in_stock": ("in_stock", "availability"),
    "group_id": ("group_id", "item_group_id"),
}

# Google feed elements (in the g: namespace) → (canonical field, priority); higher priority wins.
_G_FIELDS = {
    "id": ("id", 2),
    "title": ("name", 2),
    "link": ("url", 2),
    "image_link": ("image", 2),
    "price": ("price", 2),
    "sale_price": ("sale_price", 2),
    "availability": ("in_stock", 2),
    "product_type": ("category", 3),
    "google_product_category": ("category", 2),
    "item_group_id": ("group_id", 2),
}
# RSS / Atom core elements inside an item (no namespace or the Atom one); g: elements win over them.
_CORE_FIELDS = {"title": ("name", 1), "link": ("url", 1)}

_TRUE = {"true", "1", "yes", "y", "evet", "var", "instock", "available", "preorder", "backorder",
         "limitedavailability", "availablefororder", "onlineonly", "instoreonly"}
_FALSE = {"false", "0", "no", "n", "hayır", "hayir", "yok", "outofstock", "soldout", "discontinued",
          "unavailable"}

_CURRENCY_SIGNS = {"TL": "TRY", "₺": "TRY", "€": "EUR", "£": "GBP"}
_MONEY = re.compile(r"^(?:(?P<c1>[^\d\s.,+-]+)\s*)?(?P<num>[+-]?[\d.,]+)\s*(?P<c2>[^\d\s.,+-]+)?$")
_NUM_DOT = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")  # 1,249.90 / 1249.90 / 1249
_NUM_COMMA = re.compile(r"^(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?$")  # 1.249,90 / 1249,90
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# The common shape of a product URL, checked without urlsplit; anything else takes the full path.
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?(?:[/?#][!-~]*)?",
                        re.IGNORECASE)
_SPACES = re.compile(r"[\x00-\x1f\x7f\s]+")

_iso_currencies: set[str] | None = None


def _known_currencies() -> set[str]:
    global _iso_currencies
    if _iso_currencies is None:
        try:
            from babel.numbers import list_currencies

            _iso_currencies = set(list_currencies())
        except Exception:  # pragma: no cover - babel is a dependency; fall back to the shape check
            _iso_currencies = set()
    return _iso_currencies


# -- results and errors ------------------------------------------------------------------------


class CatalogError(Exception):
    """The whole file is refused (HTTP 400); nothing was written."""

    def __init__(self, message: str, field: str | None = "body", code: str = "bad_request") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


@dataclass
class ImportResult:
    format: str
    created: int = 0
    updated: int = 0
    rejected: int = 0
    unavailable: int = 0
    rows: int = 0  # records read (imported or rejected)
    complete: bool = True  # False when an error stopped the reading part-way
    rejections: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, line: int | None, pid: str | None, reason: str, fld: str | None = None) -> None:
        self.rejected += 1
        if len(self.rejections) < MAX_LISTED_REJECTIONS:
            self.rejections.append({"line": line, "id": pid, "field": fld, "reason": reason})

    def to_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "rejected": self.rejected,
            "unavailable": self.unavailable,
            "rejections": self.rejections,
            "rows": self.rows,
            "complete": self.complete,
            "format": self.format,
        }


class _Reject(Exception):
    def __init__(self, fld: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = fld
        self.reason = reason


@dataclass
class _Record:
    line: int
    values: dict[str, Any]  # canonical field → raw value; a key is present when the file has it


@dataclass
class _BadLine:
    line: int
    reason: str
    fld: str | None = None


class _Stop(Exception):
    """An error that ends the reading of the stream (records before it stand)."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


# -- bytes -------------------------------------------------------------------------------------


class _ByteReader:
    """Buffered reads from a binary file with a byte-bounded readline and a byte count."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.buf = b""
        self.i = 0
        self.eof = False
        self.pos = 0  # bytes handed out (for progress)

    def _more(self, want: int = READ_BLOCK) -> bool:
        if self.eof:
            return False
        chunk = self.raw.read(max(want, READ_BLOCK))
        if not chunk:
            self.eof = True
            return False
        self.buf = self.buf[self.i:] + chunk
        self.i = 0
        return True

    def peek(self, n: int) -> bytes:
        while len(self.buf) - self.i < n and self._more():
            pass
        return self.buf[self.i:self.i + n]

    def read(self, n: int = READ_BLOCK) -> bytes:
        if self.i >= len(self.buf):
            if self.eof:
                return b""
            chunk = self.raw.read(n)
            if not chunk:
                self.eof = True
                return b""
            self.pos += len(chunk)
            return chunk
        out = self.buf[self.i:self.i + n]
        self.i += len(out)
        self.pos += len(out)
        return out

    def readline(self, limit: int) -> tuple[bytes | None, int]:
        """(line with its newline, 0), (None, length) for a line over `limit` bytes (skipped), (None, 0) at EOF."""
        scan = self.i
        while True:
            j = self.buf.find(b"\n", scan, self.i + limit + 1)
            if j >= 0:
                line = self.buf[self.i:j + 1]
                self.i = j + 1
                self.pos += len(line)
                return line, 0
            if len(self.buf) - self.i > limit:
                return None, self._skip_line()
            scan = len(self.buf)
            offset = scan - self.i
            if not self._more():
                if self.i >= len(self.buf):
                    return None, 0
                line = self.buf[self.i:]
                self.i = len(self.buf)
                self.pos += len(line)
                return line, 0
            scan = self.i + offset

    def _skip_line(self) -> int:
        skipped = 0
        while True:
            j = self.buf.find(b"\n", self.i)
            if j >= 0:
                skipped += j - self.i  # the line's length, without its newline
                self.pos += j + 1 - self.i
                self.i = j + 1
                return skipped
            skipped += len(self.buf) - self.i
            self.pos += len(self.buf) - self.i
            self.buf, self.i = b"", 0
            if not self._more():
                return skipped


def _detect_format(src: _ByteReader) -> str:
    head = src.peek(READ_BLOCK)
    if not head:
        raise CatalogError("body: the file is empty")
    if head[:2] == b"\x1f\x8b":
        raise CatalogError("body: the file is gzip-compressed; decompress it first")
    if head[:4] == b"PK\x03\x04":
        raise CatalogError("body: the file is a ZIP archive (an Excel workbook?); export the sheet as CSV UTF-8")
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = head[2:64].decode("utf-16-le" if head[:2] == b"\xff\xfe" else "utf-16-be", "ignore").lstrip()
        if text.startswith("<"):
            return "xml"  # XML may be UTF-16; expat reads it
        raise CatalogError("body: the file is UTF-16 text; save it as UTF-8")
    text = head[3:] if head.startswith(codecs.BOM_UTF8) else head
    stripped = text.lstrip(b" \t\r\n")
    if not stripped:
        raise CatalogError("body: the file has no content")
    first = stripped[:1]
    if first == b"<":
        return "xml"
    if first == b"{":
        return "jsonl"
    if first == b"[":
        raise CatalogError("body: a JSON array is not supported; send JSON lines (one product object per line)")
    return "csv"


def normalize_format(value: str | None) -> str | None:
    """'CSV' → 'csv', 'ndjson' → 'jsonl', 'rss' → 'xml'; None/'' → None (detect); CatalogError otherwise."""
    if value is None or not value.strip() or value.strip().lower() == "auto":
        return None
    fmt = FORMATS.get(value.strip().lower())
    if fmt is None:
        raise CatalogError(f"format: unknown format {value[:40]!r}; use csv, jsonl or xml", field="format")
    return fmt


# -- reading records ---------------------------------------------------------------------------


def _normalize_key(name: str) -> str:
    key = name.strip().lstrip("\ufeff").strip().lower().replace(" ", "_").replace("-", "_")
    return key[2:] if key.startswith("g:") else key


def _canonical_columns(keys: list[str]) -> dict[str, int]:
    """Normalized column names → canonical field → column index (best alias wins)."""
    index: dict[str, int] = {}
    for i, key in enumerate(keys):
        index.setdefault(key, i)
    columns: dict[str, int] = {}
    for canon, aliases in ALIASES.items():
        for alias in aliases:
            if alias in index:
                columns[canon] = index[alias]
                break
    return columns


def _decode_line(raw: bytes, line_no: int) -> str:
    if line_no == 1 and raw.startswith(codecs.BOM_UTF8):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Reject(None, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                            "save the file as UTF-8") from None


class _Lines:
    """Decoded physical lines for csv.reader; tracks line numbers and where each record starts.

    Raising from __next__ (a line too long, bad UTF-8) does not break csv.reader: the next
    call resets the reader and goes on with the following line.
    """

    def __init__(self, src: _ByteReader, first_line: int) -> None:
        self.src = src
        self.line_no = first_line - 1
        self.record_start: int | None = None
        self.record_bytes = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        raw, too_long = self.src.readline(MAX_LINE + 2)
        if raw is None and not too_long:
            raise StopIteration
        self.line_no += 1
        if self.record_start is None:
            self.record_start = self.line_no
            self.record_bytes = 0
        if raw is None:
            if self.record_start != self.line_no:  # inside a quoted field: where the row ends is unknowable
                raise _Stop(self.record_start, f"the row goes on into line {self.line_no}, which is longer than "
                                               "1 MiB (an unclosed quote?)")
            raise _Reject(None, f"line is {too_long:,} bytes long; at most {MAX_LINE:,} bytes (1 MiB) per line")
        self.record_bytes += len(raw)
        if self.record_bytes > MAX_LINE + 2:
            # Reading on would turn the text inside the quote into rows of junk.
            raise _Stop(self.record_start, f"a quoted field runs over {MAX_LINE:,} bytes (1 MiB) from here "
                                           "(an unclosed quote?)")
        try:
            return _decode_line(raw, self.line_no)
        except _Reject:
            self.record_start = self.line_no
            raise


def _sniff_delimiter(header: str) -> str:
    counts = {d: 0 for d in (",", ";", "\t", "|")}
    quoted = False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_records(src: _ByteReader) -> Iterator[_Record | _BadLine]:
    if csv.field_size_limit() < 2 * MAX_LINE:
        csv.field_size_limit(2 * MAX_LINE)  # a field may be as long as a line; lines are bounded
    line_no = 0
    header = ""
    while not header.strip():
        raw, too_long = src.readline(MAX_LINE + 2)
        if raw is None and not too_long:
            raise CatalogError("body: the file has no header row")
        line_no += 1
        if raw is None:
            raise CatalogError(f"body: line {line_no} (the header) is longer than 1 MiB")
        try:
            header = _decode_line(raw, line_no)
        except _Reject as exc:
            raise CatalogError(f"body: the file is not UTF-8 text: line {line_no}: {exc.reason}") from None
    delimiter = _sniff_delimiter(header)
    try:
        names = next(csv.reader([header], delimiter=delimiter))
    except (csv.Error, StopIteration) as exc:
        raise CatalogError(f"body: line {line_no}: the header row cannot be read ({exc})") from None
    keys = [_normalize_key(n) for n in names]
    columns = _canonical_columns(keys)
    if "id" not in columns:
        shown = ", ".join(n.strip() for n in names[:20] if n.strip()) or "none"
        raise CatalogError(f"id: the header row has no 'id' column (columns found: {shown[:300]})", field="id")
    lines = _Lines(src, line_no + 1)
    # strict: a quote that is never closed, or text after a closing quote, is reported, not guessed at.
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    while True:
        lines.record_start = None
        try:
            row = next(reader)
        except StopIteration:
            return
        except _Reject as exc:
            yield _BadLine(lines.record_start or lines.line_no, exc.reason)
            continue
        except csv.Error as exc:
            reason = str(exc)
            if "unexpected end of data" in reason:
                reason = "a quoted field is never closed (a stray '\"'?); the rest of the file was read into it"
            else:
                reason = f"the row cannot be read as CSV ({reason})"
            yield _BadLine(lines.record_start or lines.line_no, reason)
            continue
        if not row or not any(cell.strip() for cell in row):
            continue
        values = {canon: (row[i] if i < len(row) else None) for canon, i in columns.items()}
        yield _Record(lines.record_start or lines.line_no, values)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _jsonl_records(src: _ByteReader) -> Iterator[_Record | _BadLine]:
    line_no = 0
    first = True
    while True:
        raw, too_long = src.readline(MAX_LINE + 2)
        if raw is None and not too_long:
            return
        line_no += 1
        if raw is None:
            yield _BadLine(line_no, f"line is {too_long:,} bytes long; at most {MAX_LINE:,} bytes (1 MiB) per line")
            continue
        try:
            text = _decode_line(raw, line_no)
        except _Reject as exc:
            if first:
                raise CatalogError(f"body: the file is not UTF-8 text: line {line_no}: {exc.reason}") from None
            yield _BadLine(line_no, exc.reason)
            continue
        if not text.strip():
            continue
        try:
            obj = json.loads(text, parse_constant=_no_constants)
        except (ValueError, RecursionError) as exc:
            reason = f"not valid JSON ({exc.msg})" if isinstance(exc, json.JSONDecodeError) else f"not valid JSON ({exc})"
            if first:
                raise CatalogError(f"body: line {line_no}: {reason}; JSON lines needs one product object per line")
            yield _BadLine(line_no, reason)
            continue
        first = False
        if not isinstance(obj, dict):
            yield _BadLine(line_no, f"must be a JSON object, not {_kind(obj)}")
            continue
        normalized: dict[str, Any] = {}
        for key, value in obj.items():
            if isinstance(key, str):
                normalized.setdefault(_normalize_key(key), value)
        values: dict[str, Any] = {}
        for canon, aliases in ALIASES.items():
            for alias in aliases:
                if alias in normalized:
                    values[canon] = normalized[alias]
                    break
        yield _Record(line_no, values)


def _item_fields() -> dict[str, tuple[str, int]]:
    # expat reports names as "namespace-uri}local" (or "local" with no namespace).
    fields = {f"{G_NS}}}{local}": spec for local, spec in _G_FIELDS.items()}
    for local, spec in _CORE_FIELDS.items():
        fields[local] = spec
        fields[f"{ATOM_NS}}}{local}"] = spec
    return fields


_ITEM_TAGS = frozenset({"item", "entry", f"{ATOM_NS}}}entry"})
_ITEM_FIELDS = _item_fields()


class _FeedHandlers:
    """expat handlers that keep only the product fields of each <item>/<entry>; no tree is built."""

    def __init__(self, expat: Any) -> None:
        self.expat = expat
        self.depth = 0
        self.root: str | None = None
        self.item_depth = -1
        self.in_item = False
        self.values: dict[str, tuple[int, str]] = {}
        self.item_line = 0
        self.item_size = 0
        self.item_too_big = False
        self.field: tuple[str, int] | None = None
        self.text: list[str] = []
        self.out: list[_Record | _BadLine] = []
        self.items = 0
        self.callbacks = 0
        expat.StartElementHandler = self.start
        expat.EndElementHandler = self.end
        expat.CharacterDataHandler = self.data

    def start(self, tag: str, attrs: list[str]) -> None:
        self.callbacks += 1
        self.depth += 1
        if self.depth > MAX_XML_DEPTH:  # feeds nest 4 levels; a nesting bomb would grow expat's stack
            raise _Stop(self.expat.CurrentLineNumber, f"XML nested deeper than {MAX_XML_DEPTH} levels")
        if not self.in_item:
            if self.root is None:
                self.root = tag
            if tag in _ITEM_TAGS:
                self.in_item = True
                self.values = {}
                self.item_depth = self.depth
                self.item_line = self.expat.CurrentLineNumber
                self.item_size = 0
                self.item_too_big = False
            return
        if self.depth != self.item_depth + 1:
            return
        spec = _ITEM_FIELDS.get(tag)
        if spec is None:
            return
        self.field = spec
        self.text = []
        if spec[0] == "url" and attrs:  # Atom: <link rel="alternate" href="…"/>
            named = dict(zip(attrs[::2], attrs[1::2]))
            if "href" in named and named.get("rel", "alternate") == "alternate":
                self.text = [named["href"]]

    def data(self, text: str) -> None:
        self.callbacks += 1
        if self.field is None or self.item_too_big:
            return
        self.item_size += len(text)
        if self.item_size > MAX_LINE:
            self.item_too_big = True
            self.text = []
            return
        self.text.append(text)

    def end(self, tag: str) -> None:
        self.callbacks += 1
        if self.in_item:
            if self.field is not None and self.depth == self.item_depth + 1:
                canon, priority = self.field
                held = self.values.get(canon)
                if held is None or priority > held[0]:
                    self.values[canon] = (priority, "".join(self.text))
                self.field = None
                self.text = []
            elif self.depth == self.item_depth:
                self.items += 1
                self.in_item = False
                if self.item_too_big:
                    self.out.append(_BadLine(self.item_line, f"item is longer than {MAX_LINE:,} characters (1 MiB)"))
                else:
                    self.out.append(_Record(self.item_line, {k: v for k, (_, v) in self.values.items()}))
        self.depth -= 1

    def drain(self) -> list[_Record | _BadLine]:
        out, self.out = self.out, []
        return out


class _NoTree:
    """DefusedXMLParser's target: no start/end/data, so the parser installs no handlers of its own."""

    def close(self) -> None:
        return None


def _xml_records(src: _ByteReader) -> Iterator[_Record | _BadLine]:
    # defusedxml installs the guards (DOCTYPE, entity declarations, external references all raise);
    # the element handlers are ours, set straight on expat: no tree, one Python call per event.
    parser = DefusedXMLParser(target=_NoTree(), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    target = _FeedHandlers(parser.parser)
    quiet_bytes = 0
    try:
        while True:
            chunk = src.read(READ_BLOCK)
            if not chunk:
                break
            before = target.callbacks
            parser.feed(chunk)
            quiet_bytes = quiet_bytes + len(chunk) if target.callbacks == before else 0
            if quiet_bytes > 2 * MAX_LINE:
                raise _Stop(target.expat.CurrentLineNumber, "an XML tag, comment or token is longer than 1 MiB")
            yield from target.drain()
        parser.close()
    except ParseError as exc:
        yield from target.drain()
        line = exc.position[0] if getattr(exc, "position", None) else None
        message = str(exc).split(": line", 1)[0]
        if target.items == 0:
            where = f"line {line}: " if line else ""
            raise CatalogError(f"body: not a readable XML feed: {where}{message}") from None
        raise _Stop(line, f"the XML is broken here ({message})") from None
    except DefusedXmlException as exc:
        raise CatalogError(
            "body: XML with a DOCTYPE, entity declarations or external references is refused "
            f"({type(exc).__name__}); product feeds do not need them") from None
    except (LookupError, ValueError) as exc:  # an encoding expat cannot read ("unknown encoding: …")
        yield from target.drain()
        if target.items == 0:
            raise CatalogError(f"body: not a readable XML feed: {str(exc)[:200]}; save it as UTF-8") from None
        raise _Stop(target.expat.CurrentLineNumber, f"the XML cannot be read here ({str(exc)[:200]})") from None
    except _Stop as stop:
        yield from target.drain()
        if target.items == 0:
            raise CatalogError(f"body: line {stop.line}: {stop.message}") from None
        raise
    yield from target.drain()
    if target.items == 0:
        root = (target.root or "?").rsplit("}", 1)[-1]
        raise CatalogError(f"body: no <item> (RSS) or <entry> (Atom) elements found under <{root}>; "
                           "send a Google Merchant Center RSS 2.0 or Atom feed")


# -- validating one record ---------------------------------------------------------------------


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "true/false", type(None): "null"}.get(
        type(value), type(value).__name__)


def _text(value: Any, fld: str, max_len: int) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _Reject(fld, f"{fld} must be text, not {_kind(value)}")
    if isinstance(value, float):
        if not value.is_integer():
            raise _Reject(fld, f"{fld} must be text, not a decimal number")
        value = int(value)
    text = str(value).strip()
    if len(text) > max_len:
        raise _Reject(fld, f"{fld} is {len(text)} characters long; at most {max_len}")
    if _SURROGATE.search(text):  # from a JSON line's "\ud800": SQLite (UTF-8) could not store it
        raise _Reject(fld, f"{fld} is not valid Unicode (a lone surrogate such as \\ud800)")
    return text or None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean_text(value: Any, fld: str, max_len: int) -> str | None:
    text = _text(value, fld, max_len * 4)
    if text is None:
        return None
    text = _SPACES.sub(" ", text).strip()
    if len(text) > max_len:
        raise _Reject(fld, f"{fld} is {len(text)} characters long; at most {max_len}")
    return text or None


def _identifier(value: Any, fld: str) -> str | None:
    text = _text(value, fld, MAX_ID)
    if text is not None and _CONTROL.search(text):
        raise _Reject(fld, f"{fld} must not contain control characters (tabs, line breaks)")
    return text


def _url(value: Any, fld: str) -> str | None:
    text = _text(value, fld, MAX_URL)
    if text is None:
        return None
    if _PLAIN_URL.fullmatch(text):
        return text
    if _CONTROL.search(text):
        raise _Reject(fld, f"{fld} must not contain control characters")
    text = text.replace(" ", "%20")
    if len(text) > MAX_URL:
        raise _Reject(fld, f"{fld} is longer than {MAX_URL} characters")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise _Reject(fld, f"{fld} is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise _Reject(fld, f"{fld} must be an absolute http(s) URL, not {text[:80]!r}")
    return text


def _currency(token: str, fld: str) -> str:
    code = _CURRENCY_SIGNS.get(token.strip(), token.strip()).upper()
    code = _CURRENCY_SIGNS.get(code, code)
    known = _known_currencies()
    if not re.fullmatch(r"[A-Z]{3}", code) or (known and code not in known):
        raise _Reject(fld, f"{fld}: {token.strip()[:20]!r} is not a 3-letter ISO 4217 currency code such as TRY")
    return code


def _money(value: Any, fld: str) -> tuple[float | None, str | None]:
    """'249.90 TRY' / 'TRY 249.90' / '249,90' / 249.9 → (amount, currency or None)."""
    if value is None:
        return None, None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _Reject(fld, f"{fld} must be a number or text such as '249.90 TRY', not {_kind(value)}")
    currency = None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None, None
        m = _MONEY.match(text)
        if m is None:
            raise _Reject(fld, f"{fld}: {text[:40]!r} is not a price such as '249.90 TRY'")
        if m["c1"] and m["c2"]:
            raise _Reject(fld, f"{fld}: {text[:40]!r} names the currency twice")
        token = m["c1"] or m["c2"]
        if token:
            currency = _currency(token, fld)
        num = m["num"]
        negative = num.startswith("-")
        num = num.lstrip("+-")
        if _NUM_DOT.match(num):
            amount = float(num.replace(",", ""))
        elif _NUM_COMMA.match(num):
            amount = float(num.replace(".", "").replace(",", "."))
        else:
            raise _Reject(fld, f"{fld}: {text[:40]!r} is not a number")
        if negative:
            amount = -amount
    else:
        try:
            amount = float(value)
        except OverflowError:
            raise _Reject(fld, f"{fld} must be below {MAX_PRICE:,.0f}") from None
    if not math.isfinite(amount):
        raise _Reject(fld, f"{fld} must be a finite number")
    if amount < 0:
        raise _Reject(fld, f"{fld} must not be negative")
    if amount >= MAX_PRICE:
        raise _Reject(fld, f"{fld} must be below {MAX_PRICE:,.0f}")
    return amount, currency


def _availability(value: Any) -> int:
    if value is None:
        return 1
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    if isinstance(value, str):
        key = value.strip().lower()
        if not key:
            return 1
        for prefix in ("https://schema.org/", "http://schema.org/"):
            if key.startswith(prefix):
                key = key[len(prefix):]
        key = key.replace("_", "").replace(" ", "").replace("-", "")
        if key in _TRUE:
            return 1
        if key in _FALSE:
            return 0
    shown = value[:30] if isinstance(value, str) else value
    raise _Reject("in_stock", f"in_stock: unknown value {shown!r}; use true/false, yes/no, 1/0, "
                              "in_stock, out_of_stock, preorder or backorder")


@dataclass
class _Context:
    fmt: str
    default_currency: str | None


def _row_params(values: dict[str, Any], ctx: _Context) -> tuple[str, tuple]:
    """Validated (id, params for the upsert minus shop/time); raises _Reject."""
    pid = _identifier(values.get("id"), "id")
    if pid is None:
        raise _Reject("id", "id is required")
    name = _clean_text(values.get("name"), "name", MAX_NAME)
    has_price = "price" in values or "sale_price" in values
    price, price_cur = _money(values.get("price"), "price")
    sale, sale_cur = _money(values.get("sale_price"), "sale_price")
    col_cur = None
    raw_cur = values.get("currency")
    if raw_cur is not None and not (isinstance(raw_cur, str) and not raw_cur.strip()):
        if not isinstance(raw_cur, str):
            raise _Reject("currency", f"currency must be a code such as TRY, not {_kind(raw_cur)}")
        col_cur = _currency(raw_cur, "currency")
    if price_cur and col_cur and price_cur != col_cur:
        raise _Reject("currency", f"price is in {price_cur} but the currency column says {col_cur}")
    currency = price_cur or col_cur
    if sale is not None:
        if sale_cur and currency and sale_cur != currency:
            raise _Reject("sale_price", f"sale_price is in {sale_cur} but price is in {currency}")
        currency = currency or sale_cur
        price = sale
    if price is not None and currency is None:
        if ctx.fmt == "xml":
            raise _Reject("price", "price has no currency; a Google feed writes it as '249.90 TRY'")
        if "currency" in values or ctx.default_currency is None:
            raise _Reject("price", "price has no currency")
        currency = ctx.default_currency
    url = _url(values.get("url"), "url")
    image = _url(values.get("image"), "image")
    category = _clean_text(values.get("category"), "category", MAX_CATEGORY)
    in_stock = _availability(values.get("in_stock"))
    group_id = _identifier(values.get("group_id"), "group_id")
    params = (pid, name, price, currency, url, image, category, in_stock, group_id,
              "name" in values, has_price, "url" in values, "image" in values, "category" in values,
              "group_id" in values)
    return pid, params


def _rejected_id(values: dict[str, Any]) -> str | None:
    try:
        return _identifier(values.get("id"), "id")
    except _Reject:
        return None


# -- writing (runs in the writer thread / the CLI's transaction) ---------------------------------

_UPSERT = """
INSERT INTO products (shop, id, name, price, currency, url, image, category, in_stock, group_id, source, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'catalog', ?11)
ON CONFLICT (shop, id) DO UPDATE SET
    name = CASE WHEN ?12 THEN excluded.name ELSE name END,
    price = CASE WHEN ?13 THEN excluded.price ELSE price END,
    currency = CASE WHEN ?13 THEN excluded.currency ELSE currency END,
    url = CASE WHEN ?14 THEN excluded.url ELSE url END,
    image = CASE WHEN ?15 THEN excluded.image ELSE image END,
    category = CASE WHEN ?16 THEN excluded.category ELSE category END,
    group_id = CASE WHEN ?17 THEN excluded.group_id ELSE group_id END,
    in_stock = excluded.in_stock,
    restocked_at = CASE WHEN excluded.in_stock AND NOT in_stock THEN excluded.updated_at ELSE restocked_at END,
    source = 'catalog',
    updated_at = excluded.updated_at
"""


def _create_seen(conn: sqlite3.Connection, table: str) -> None:
    conn.execute(f"CREATE TEMP TABLE {table} (id TEXT PRIMARY KEY, line INTEGER NOT NULL) WITHOUT ROWID")


def _drop_seen(conn: sqlite3.Connection, table: str) -> None:
    conn.execute(f"DROP TABLE IF EXISTS temp.{table}")


def _write_chunk(conn: sqlite3.Connection, shop: str, table: str, items: list, now: float) -> tuple:
    """items: (line, id, params or None for a rejected row). Returns (created, updated, new ids, duplicates)."""
    created = updated = new_ids = 0
    duplicates: list[tuple[int, str, int]] = []
    remember = f"INSERT OR IGNORE INTO temp.{table} (id, line) VALUES (?, ?)"
    for line, pid, params in items:
        if conn.execute(remember, (pid, line)).rowcount == 0:
            if params is not None:
                first = conn.execute(f"SELECT line FROM temp.{table} WHERE id = ?", (pid,)).fetchone()
                duplicates.append((line, pid, first[0] if first else 0))
            continue
        new_ids += 1
        if params is None:
            continue
        exists = conn.execute("SELECT 1 FROM products WHERE shop = ? AND id = ?", (shop, pid)).fetchone()
        conn.execute(_UPSERT, (shop, *params[:9], now, *params[9:]))
        if exists:
            updated += 1
        else:
            created += 1
    products_of(conn).invalidate(shop, [pid for _, pid, params in items if params is not None])
    bump_catalog(conn, shop)
    return created, updated, new_ids, duplicates


def _mark_unavailable(conn: sqlite3.Connection, shop: str, table: str, expected: int, now: float) -> int:
    held = conn.execute(f"SELECT count(*) FROM temp.{table}").fetchone()[0]
    if held != expected:  # the ids were not all kept (chunks written on another connection?): do not guess
        return -1
    absent = f"shop = ? AND source = 'catalog' AND id NOT IN (SELECT id FROM temp.{table})"
    count = conn.execute(f"SELECT count(*) FROM products WHERE {absent}", (shop,)).fetchone()[0]
    conn.execute(f"UPDATE products SET in_stock = 0, updated_at = ? WHERE {absent} AND in_stock != 0", (now, shop))
    products_of(conn).invalidate(shop)
    bump_catalog(conn, shop)
    return count


Writer = Callable[..., Any]


def connection_writer(conn: sqlite3.Connection) -> Writer:
    """A writer over a plain connection (CLI, tests): each call is one immediate transaction."""
    return functools.partial(transaction, conn)


# -- the import --------------------------------------------------------------------------------


def import_stream(
    writer: sqlite3.Connection | Writer,
    shop_id: str,
    binary_file: BinaryIO,
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
    write = connection_writer(writer) if isinstance(writer, sqlite3.Connection) else writer
    src = _ByteReader(binary_file)
    fmt = normalize_format(fmt) or _detect_format(src)
    result = ImportResult(format=fmt)
    ctx = _Context(fmt=fmt, default_currency=default_currency)
    records = {"csv": _csv_records, "jsonl": _jsonl_records, "xml": _xml_records}[fmt](src)
    table = "catalog_seen_" + uuid.uuid4().hex
    pending: list[tuple[int, str, tuple | None]] = []
    seen_ids = 0

    def flush() -> None:
        nonlocal seen_ids
        if not pending:
            return
        created, updated, new_ids, duplicates = write(_write_chunk, shop_id, table, list(pending), time.time())
        pending.clear()
        result.created += created
        result.updated += updated
        seen_ids += new_ids
        for line, pid, first in duplicates:
            result.reject(line, pid, f"duplicate id: already on line {first}" if first else "duplicate id", "id")

    write(_create_seen, table)
    try:
        try:
            for rec in records:
                if isinstance(rec, _BadLine):
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
                        pid, params = _row_params(rec.values, ctx)
                    except _Reject as exc:
                        rid = _rejected_id(rec.values)
                        result.reject(rec.line, rid, exc.reason, exc.field)
                        if rid is not None:
                            pending.append((rec.line, rid, None))
                    except Exception as exc:  # a value no rule foresaw: reject the row, never fail the file
                        result.reject(rec.line, _rejected_id(rec.values), f"cannot be read ({type(exc).__name__})")
                    else:
                        pending.append((rec.line, pid, params))
                if len(pending) >= CHUNK_ROWS:
                    flush()
                if progress is not None and result.rows % 256 == 0:
                    progress(src.pos, result.rows)
        except _Stop as stop:
            result.complete = False
            note = "; the rest of the file was not imported" + ("; full was not applied" if full else "")
            result.reject(stop.line, None, stop.message + note)
        flush()
        if full and result.rows == 0 and result.complete:
            raise CatalogError("body: the feed has no products; with full=true every product would become unavailable")
        if full and result.complete:
            unavailable = write(_mark_unavailable, shop_id, table, seen_ids, time.time())
            if unavailable < 0:
                result.complete = False  # noted, not counted: no row was rejected
                result.rejections.append({"line": None, "id": None, "field": None,
                                          "reason": "full was not applied: the import lost track of the feed's ids"})
            else:
                result.unavailable = unavailable
    finally:
        try:
            write(_drop_seen, table)
        except Exception:  # pragma: no cover - a temp table dies with its connection anyway
            pass
    if progress is not None:
        progress(src.pos, result.rows)
    result.rejections.sort(key=lambda r: (r["line"] is None, r["line"] or 0))
    return result


# -- command line ------------------------------------------------------------------------------


def _human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover


class ProgressBar:
    """`\\r`-redrawn progress on a terminal: percentage, bytes read / size, rows per second."""

    def __init__(self, total: int | None, stream: Any = None, width: int = 24, interval: float = 0.1) -> None:
        self.total = total if total and total > 0 else None
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.interval = interval
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.last_len = 0
        self.drawn = False
        self.done = 0
        self.rows = 0

    def __call__(self, done: int, rows: int) -> None:
        self.done, self.rows = done, rows
        now = time.monotonic()
        if now - self.last_draw < self.interval:
            return
        self.last_draw = now
        self.draw(done, rows, now)

    def line(self, done: int, rows: int, now: float | None = None) -> str:
        elapsed = max((now or time.monotonic()) - self.started, 1e-6)
        rate = f"{rows / elapsed:,.0f} rows/s"
        if self.total:
            share = min(done / self.total, 1.0)
            filled = int(share * self.width)
            bar = "#" * filled + "." * (self.width - filled)
            return (f"{share * 100:5.1f}% [{bar}] {_human_bytes(done)} / {_human_bytes(self.total)}  "
                    f"{rows:,} rows  {rate}")
        return f"{_human_bytes(done)} read  {rows:,} rows  {rate}"

    def draw(self, done: int, rows: int, now: float | None = None) -> None:
        text = self.line(done, rows, now)
        pad = max(self.last_len - len(text), 0)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self.last_len = len(text)
        self.drawn = True

    def finish(self) -> None:
        """Draw the last state (so the bar ends at what was read) and end the line."""
        if self.drawn or self.rows:
            self.draw(self.done, self.rows)
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def format_result(result: ImportResult, seconds: float | None = None) -> str:
    took = f" in {seconds:.1f} s" if seconds is not None else ""
    lines = [
        f"catalog import ({result.format}{took}): {result.rows:,} row{'' if result.rows == 1 else 's'} read, "
        f"{result.created:,} created, "
        f"{result.updated:,} updated, {result.rejected:,} rejected, {result.unavailable:,} unavailable"
    ]
    if not result.complete:
        lines.append("the file was not read to its end (see the last rejection)")
    if result.rejections:
        lines.append("rejected:")
        for r in result.rejections:
            where = f"line {r['line']}" if r["line"] is not None else "file"
            pid = f" (id {r['id']})" if r["id"] else ""
            lines.append(f"  {where}{pid}: {r['reason']}")
        if result.rejected > len(result.rejections):
            lines.append(f"  … and {result.rejected - len(result.rejections):,} more not listed")
    return "\n".join(lines)


def cli_import(db_path: str, shop: str, file: str, fmt: str | None, full: bool) -> int:
    """`cartback catalog import SHOP FILE [--format F] [--full]`.

    Exit codes: 0 every row imported; 3 imported, but some rows were rejected or the file was not
    read to its end; 1 nothing imported (unknown shop, unreadable or refused file).
    """
    err = sys.stderr
    try:
        fmt = normalize_format(fmt)
    except CatalogError as exc:
        print(f"cartback: {exc.message}", file=err)
        return 1
    if not os.path.exists(db_path):
        print(f"cartback: no database at {db_path} (run 'cartback shop add' first, or pass --db)", file=err)
        return 1
    from .db import connect_sync  # late: the core above needs no server module

    conn = connect_sync(db_path)
    try:
        row = conn.execute("SELECT currency FROM shops WHERE id = ?", (shop,)).fetchone()
        if row is None:
            print(f"cartback: no shop {shop!r} in {db_path}", file=err)
            return 1
        if file == "-":
            stream: BinaryIO = sys.stdin.buffer
            total = None
        else:
            try:
                stream = open(file, "rb")  # noqa: SIM115 - closed below
            except OSError as exc:
                print(f"cartback: cannot open {file}: {exc.strerror}", file=err)
                return 1
            total = os.fstat(stream.fileno()).st_size
        bar = ProgressBar(total, err) if err.isatty() else None
        started = time.monotonic()
        try:
            result = import_stream(conn, shop, stream, fmt=fmt, full=full, default_currency=row[0], progress=bar)
        except CatalogError as exc:
            if bar is not None:
                bar.finish()
            print(f"cartback: {file}: {exc.message}", file=err)
            return 1
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
        if bar is not None:
            bar.finish()
        print(format_result(result, time.monotonic() - started))
        return 0 if result.rejected == 0 and result.complete else 3
    finally:
        conn.close()
