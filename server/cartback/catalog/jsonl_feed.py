"""JSON lines: one product object per line, its keys read through the shared column aliases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .fields import kind
from .result import BadLine, CatalogError, Record, Reject
from .source import MAX_LINE, ByteReader, canonical, decode_line, normalize_key


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def jsonl_records(src: ByteReader) -> Iterator[Record | BadLine]:
    line_no = 0
    first = True
    while True:
        raw, too_long = src.readline(MAX_LINE + 2)
        if raw is None and not too_long:
            return
        line_no += 1
        if raw is None:
            yield BadLine(line_no, f"line is {too_long:,} bytes long; at most {MAX_LINE:,} bytes (1 MiB) per line")
            continue
        try:
            text = decode_line(raw, line_no)
        except Reject as exc:
            if first:
                raise CatalogError(f"body: the file is not UTF-8 text: line {line_no}: {exc.reason}") from None
            yield BadLine(line_no, exc.reason)
            continue
        if not text.strip():
            continue
        try:
            obj = json.loads(text, parse_constant=_no_constants)
        except (ValueError, RecursionError) as exc:
            reason = f"not valid JSON ({exc.msg if isinstance(exc, json.JSONDecodeError) else exc})"
            if first:
                raise CatalogError(f"body: line {line_no}: {reason}; JSON lines needs one product object per line"
                                   ) from None
            yield BadLine(line_no, reason)
            continue
        first = False
        if not isinstance(obj, dict):
            yield BadLine(line_no, f"must be a JSON object, not {kind(obj)}")
            continue
        normalized: dict[str, Any] = {}
        for key, value in obj.items():
            if isinstance(key, str):
                normalized.setdefault(normalize_key(key), value)
        yield Record(line_no, canonical(normalized))
