"""What an import reports (`ImportResult`), and the errors that refuse a file, a row or the rest of a stream.

`CatalogError` refuses the whole file before anything is written (HTTP 400, CLI exit 1); `Reject`
turns one row into a listed rejection and the import goes on; `Stop` ends the reading part-way,
keeping what was imported. The readers yield `Record`s (one product's raw values) and `BadLine`s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_LISTED_REJECTIONS = 1000  # rejections listed in the result; all are counted


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


class Reject(Exception):
    def __init__(self, fld: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = fld
        self.reason = reason


@dataclass
class Record:
    line: int
    values: dict[str, Any]  # canonical field → raw value; a key is present when the file has it


@dataclass
class BadLine:
    line: int
    reason: str
    fld: str | None = None


class Stop(Exception):
    """An error that ends the reading of the stream (records before it stand)."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message
