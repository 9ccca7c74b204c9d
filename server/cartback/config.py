"""Server settings: one dataclass, filled from the command line or by tests."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
_PACKAGED = Path(__file__).resolve().parent / "_assets"


def asset_dir(name: str) -> Path:
    """`snippet`, `static` or `demo_site`: at the top of a source checkout (an editable install
    runs from there); a wheel carries them inside the package, as server/cartback/_assets/<name>
    (pyproject.toml maps them)."""
    packaged = _PACKAGED / name
    return packaged if packaged.is_dir() else REPO_ROOT / name


# `serve --workers N`: the parent hands its Settings to every worker in this variable, as JSON.
WORKER_SETTINGS_ENV = "CARTBACK_WORKER_SETTINGS"

SNIPPET_PATH = asset_dir("snippet") / "dist" / "cartback.js"
STATIC_DIR = asset_dir("static")


@dataclass
class Settings:
    db_path: str = "cartback.db"
    host: str = "127.0.0.1"
    port: int = 8000
    # Extra template folder searched before the built-in one (override block.html / card.html by name).
    templates_dir: str | None = None
    # The built core; the platform adapters are the other .js files beside it (snippet/build.mjs).
    snippet_path: Path = SNIPPET_PATH
    static_dir: Path = STATIC_DIR
    max_body_bytes: int = 64 * 1024
    max_events_per_request: int = 100
    # Visitor tokens older than this (days since last refresh) are treated as unknown.
    token_max_age_days: int = 400
    # Browser calls per visitor per minute before 429; 0 switches the limit off (benchmarks).
    rate_limit_per_minute: int = 600
    # Browser calls (events and blocks) per client address a minute, token or not; 0 = off. High
    # enough for a shop's visitors behind one carrier-grade NAT, low enough to stop a flood.
    address_limit_per_minute: int = 3000
    # Wrong API keys per client address a minute before that address gets 429 for the minute.
    key_failures_per_minute: int = 20
    # The database file's size cap in MiB (SQLite's max_page_count, 4 KiB pages); None = the disk's.
    max_db_mb: float | None = None
    # Per shop: browser-reported products outside the catalog, and visitors (server/cartback/caps.py).
    max_browser_products: int = 50_000
    max_visitors: int = 2_000_000
    max_visitor_items: int = 1_000
    # Read the shop's product pages to confirm what browsers report (server/cartback/confirm.py).
    confirm_pages: bool = False
    # Seconds a request body may take to arrive whole (http.read_body).
    body_timeout: float = 15.0
    # Count events from self-declared bots and headless browsers (the project's own browser tests).
    count_bots: bool = False
    readers: int = 2
    # Other serving processes write this database too (`serve --workers N`, N > 1): the caches keep
    # what they hold at most a second, the block reads a fresh snapshot every time, and the process
    # takes no serve lock (the parent holds it). db.Database.shared.
    shared: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({f.name: str(v) if isinstance(v := getattr(self, f.name), Path) else v
                           for f in dataclasses.fields(self)})

    @classmethod
    def from_json(cls, text: str) -> Settings:
        data = json.loads(text)
        for f in dataclasses.fields(cls):
            if f.type == "Path" and f.name in data:
                data[f.name] = Path(data[f.name])
        return cls(**data)
