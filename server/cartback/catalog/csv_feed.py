"""CSV (and TSV, semicolons, pipes) rows as records: the header names the columns, the delimiter is
sniffed from it, and each record keeps the line number it starts on."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from .result import BadLine, CatalogError, Record, Reject, Stop
from .source import MAX_LINE, ByteReader, canonical, decode_line, normalize_key


class _Lines:
    """Decoded physical lines for csv.reader; tracks line numbers and where each record starts.

    Raising from __next__ (a line too long, bad UTF-8) does not break csv.reader: the next
    call resets the reader and goes on with the following line.
    """

    def __init__(self, src: ByteReader, first_line: int) -> None:
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
                raise Stop(self.record_start, f"the row goes on into line {self.line_no}, which is longer than "
                                               "1 MiB (an unclosed quote?)")
            raise Reject(None, f"line is {too_long:,} bytes long; at most {MAX_LINE:,} bytes (1 MiB) per line")
        self.record_bytes += len(raw)
        if self.record_bytes > MAX_LINE + 2:
            # Reading on would turn the text inside the quote into rows of junk.
            raise Stop(self.record_start, f"a quoted field runs over {MAX_LINE:,} bytes (1 MiB) from here "
                                           "(an unclosed quote?)")
        try:
            return decode_line(raw, self.line_no)
        except Reject:
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


def csv_records(src: ByteReader) -> Iterator[Record | BadLine]:
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
            header = decode_line(raw, line_no)
        except Reject as exc:
            raise CatalogError(f"body: the file is not UTF-8 text: line {line_no}: {exc.reason}") from None
    delimiter = _sniff_delimiter(header)
    try:
        names = next(csv.reader([header], delimiter=delimiter))
    except (csv.Error, StopIteration) as exc:
        raise CatalogError(f"body: line {line_no}: the header row cannot be read ({exc})") from None
    keys = [normalize_key(n) for n in names]
    index: dict[str, int] = {}
    for i, key in enumerate(keys):
        index.setdefault(key, i)  # a name twice: the first column
    columns = canonical(index)
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
        except Reject as exc:
            yield BadLine(lines.record_start or lines.line_no, exc.reason)
            continue
        except csv.Error as exc:
            reason = str(exc)
            if "unexpected end of data" in reason:
                reason = "a quoted field is never closed (a stray '\"'?); the rest of the file was read into it"
            else:
                reason = f"the row cannot be read as CSV ({reason})"
            yield BadLine(lines.record_start or lines.line_no, reason)
            continue
        if not row or not any(cell.strip() for cell in row):
            continue
        values = {canon: (row[i] if i < len(row) else None) for canon, i in columns.items()}
        yield Record(lines.record_start or lines.line_no, values)
