"""The bytes of a feed: buffered, byte-bounded reads, the format told from the first bytes, and the
column names every format shares (`ALIASES`).

A line (CSV, JSON lines) is read only up to MAX_LINE bytes: a longer one is skipped, never held.
"""

from __future__ import annotations

import codecs
from typing import IO, TypeVar

from .result import CatalogError, Reject

T = TypeVar("T")

MAX_LINE = 1 << 20  # bytes in one line (CSV, JSON lines) or one XML item's kept text
READ_BLOCK = 64 * 1024
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
class ByteReader:
    """Buffered reads from a binary file with a byte-bounded readline and a byte count."""

    def __init__(self, raw: IO[bytes]) -> None:
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


def detect_format(src: ByteReader) -> str:
    head = src.peek(READ_BLOCK)
    if not head:
        raise CatalogError("body: the file is empty")
    if head[:2] == b"\x1f\x8b":
        raise CatalogError("body: the file is gzip-compressed; decompress it first")
    if head[:4] == b"PK\x03\x04":
        raise CatalogError("body: the file is a ZIP archive (an Excel workbook?); export the sheet as CSV UTF-8")
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        utf16 = head[2:64].decode("utf-16-le" if head[:2] == b"\xff\xfe" else "utf-16-be", "ignore").lstrip()
        if utf16.startswith("<"):
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


def normalize_key(name: str) -> str:
    key = name.strip().lstrip("\ufeff").strip().lower().replace(" ", "_").replace("-", "_")
    return key[2:] if key.startswith("g:") else key


def canonical(named: dict[str, T]) -> dict[str, T]:
    """Values by normalized column name → values by canonical field (the best alias present wins)."""
    found: dict[str, T] = {}
    for canon, aliases in ALIASES.items():
        for alias in aliases:
            if alias in named:
                found[canon] = named[alias]
                break
    return found


def decode_line(raw: bytes, line_no: int) -> str:
    if line_no == 1 and raw.startswith(codecs.BOM_UTF8):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Reject(None, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                            "save the file as UTF-8") from None
