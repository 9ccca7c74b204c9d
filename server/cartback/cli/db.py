"""`cartback db copy FROM TO`: the copy's terminal side, a progress bar on stderr (on a terminal)
and the summary of what was copied and compared on stdout. The copy itself is `cartback.dbcopy`.

Exit codes: 0 copied and both sides equal; 1 the copy failed (TO left as it was) or the comparison
found differences (listed); 2 refused before anything was written (FROM or TO unusable, TO not
empty or being served)."""

from __future__ import annotations

import sqlite3
import sys
import time
from typing import TextIO

import psycopg

from ..connection import storage_problem
from ..dbcopy import MAX_DIFFERENCES, CopyRefused, CopyResult, copy_database, display
from .catalog import ProgressBar


class CopyProgress(ProgressBar):
    """The import's bar, counting rows of the whole copy and naming the table being copied."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(None, stream)
        self.table = ""

    def table_done(self, table: str, done: int, total: int) -> None:
        self.table, self.total = table, total or None
        self(done, done)

    def line(self, done: int, rows: int, now: float | None = None) -> str:
        elapsed = max((now or time.monotonic()) - self.started, 1e-6)
        share = min(done / self.total, 1.0) if self.total else 1.0
        filled = int(share * self.width)
        return (f"{share * 100:5.1f}% [{'#' * filled}{'.' * (self.width - filled)}] {rows:,} / "
                f"{self.total or 0:,} rows  {rows / elapsed:,.0f} rows/s  {self.table}")


def summary(source: str, target: str, result: CopyResult) -> str:
    rate = result.total / result.seconds if result.seconds > 0 else 0.0
    tables = len(result.rows)
    lines = [f"db copy: {result.total:,} rows of {tables} tables from {display(source)} to {display(target)} "
             f"in {result.seconds:.1f} s ({rate:,.0f} rows/s)"]
    lines.append("  " + ", ".join(f"{name} {n:,}" for name, n in result.rows.items()))
    if result.replaced_state:
        lines.append(f"  (TO's own {result.replaced_state} meta rows, a server's state with no data, "
                     "were replaced by FROM's)")
    first, last = (d.isoformat() for d in result.period)
    shops = len(result.shops)
    compared = (f"row counts of {tables} tables; reports of {shops} shop{'' if shops == 1 else 's'} "
                f"from {first} to {last}")
    if not result.differences:
        lines.append(f"checked: {compared}: equal on both sides")
        return "\n".join(lines)
    lines.append(f"check FAILED: {compared}: {len(result.differences)} difference"
                 f"{'' if len(result.differences) == 1 else 's'} (FROM ≠ TO); do not serve TO:")
    lines += [f"  {d}" for d in result.differences[:MAX_DIFFERENCES]]
    if len(result.differences) > MAX_DIFFERENCES:
        lines.append(f"  … and {len(result.differences) - MAX_DIFFERENCES:,} more")
    return "\n".join(lines)


def cli_copy(source: str, target: str) -> int:
    err = sys.stderr
    bar = CopyProgress(err) if err.isatty() else None
    try:
        result = copy_database(source, target, progress=bar.table_done if bar is not None else None)
    except CopyRefused as exc:
        print(f"cartback db copy: error: {exc}; nothing was written", file=err)
        return 2
    except (sqlite3.Error, psycopg.Error) as exc:
        if bar is not None:
            bar.finish()
        print(f"cartback db copy: error: the copy failed ({storage_problem(exc) or exc}); "
              f"{display(target)} was left as it was", file=err)
        return 1
    except BaseException:
        if bar is not None:
            bar.finish()  # Ctrl-C: the line ends where the copy stopped
        raise
    if bar is not None:
        bar.finish()
    print(summary(source, target, result))
    return 0 if not result.differences else 1
