"""Streaming product catalog import: CSV, JSON lines and Google Merchant Center RSS/Atom feeds.

One sync core, `import_stream` (importer.py), serves both the CLI (`cartback catalog import`, cli/catalog.py,
writing through a plain sqlite3 connection) and `PUT /v1/shops/{shop}/catalog` (parsing in a worker
thread, writing each chunk through `Database.write`). Nothing holds the whole file: rows are read one
at a time (source.py: bytes and format; csv_feed.py, jsonl_feed.py, xml_feed.py: records),
validated outside the writer (fields.py), and written `CHUNK_ROWS` per transaction (writer.py).

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

from .importer import CHUNK_ROWS, import_stream
from .result import MAX_LISTED_REJECTIONS, CatalogError, ImportResult
from .source import FORMATS, normalize_format
from .writer import Writer, connection_writer

__all__ = ["CHUNK_ROWS", "FORMATS", "MAX_LISTED_REJECTIONS", "CatalogError", "ImportResult", "Writer",
           "connection_writer", "import_stream", "normalize_format"]
