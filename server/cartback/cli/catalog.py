"""`cartback catalog import SHOP FILE [--format F] [--full]`: the import's terminal side, a progress
bar redrawn on one line of stderr (only on a terminal) and the summary with every listed rejection
on stdout. The import itself is `cartback.catalog.import_stream`."""

from __future__ import annotations

import os
import sys
import time
from typing import BinaryIO, TextIO

from ..catalog import CatalogError, ImportResult, import_stream, normalize_format
from ..connection import connect_sync
from ..errors import ApiError
from ..locks import shop_locks
from ..pg import is_postgres


def _human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover


class ProgressBar:
    """`\\r`-redrawn progress on a terminal: percentage, bytes read / size, rows per second."""

    def __init__(self, total: int | None, stream: TextIO | None = None, width: int = 24,
                 interval: float = 0.1) -> None:
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
    read to its end; 1 nothing imported (unknown shop, unreadable or refused file, another import
    of the shop running).
    """
    err = sys.stderr
    try:
        fmt = normalize_format(fmt)
    except CatalogError as exc:
        print(f"cartback: {exc.message}", file=err)
        return 1
    if not is_postgres(db_path) and not os.path.exists(db_path):
        print(f"cartback: no database at {db_path} (run 'cartback shop add' first, or pass --db)", file=err)
        return 1
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
            # The server's imports take the same lock: one import per shop, whoever runs it.
            with shop_locks(db_path).hold(shop):
                result = import_stream(conn, shop, stream, fmt=fmt, full=full, default_currency=row[0],
                                       progress=bar)
        except (CatalogError, ApiError) as exc:
            if bar is not None:
                bar.finish()
            where = f"{file}: " if isinstance(exc, CatalogError) else ""
            print(f"cartback: {where}{exc.message}", file=err)
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
