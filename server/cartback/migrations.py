"""The versioned schema. Each step runs once, in order, inside one transaction at start-up.

Never edit a step that has shipped: append a new one. `PRAGMA user_version` holds how many ran
(on PostgreSQL the table `cartback_schema`, and the steps' types go through `pg.ddl`): one list of
steps for both databases.
"""

from __future__ import annotations

import sqlite3

STEPS: list[str] = [
    # 1: the foundation.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

    CREATE TABLE shops (
        id TEXT PRIMARY KEY,
        api_key_hash TEXT NOT NULL,
        origins TEXT NOT NULL,              -- JSON list of allowed origins
        selector TEXT,                      -- empty-cart CSS selector or preset name
        locale TEXT NOT NULL DEFAULT 'tr',
        currency TEXT NOT NULL DEFAULT 'TRY',
        settings TEXT NOT NULL DEFAULT '{}',-- JSON: per-shop rules, windows, holdout share
        created_at REAL NOT NULL
    );

    CREATE TABLE products (
        shop TEXT NOT NULL,
        id TEXT NOT NULL,
        name TEXT,
        price REAL,
        currency TEXT,
        url TEXT,
        image TEXT,
        category TEXT,
        in_stock INTEGER NOT NULL DEFAULT 1,
        group_id TEXT,
        source TEXT NOT NULL,               -- 'catalog' (authoritative) or 'browser'
        updated_at REAL NOT NULL,
        PRIMARY KEY (shop, id)
    ) WITHOUT ROWID;

    CREATE TABLE visitors (
        shop TEXT NOT NULL,
        vid TEXT NOT NULL,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL,
        PRIMARY KEY (shop, vid)
    ) WITHOUT ROWID;

    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        shop TEXT NOT NULL,
        vid TEXT NOT NULL,
        ts REAL NOT NULL,
        type TEXT NOT NULL,
        product_id TEXT,
        qty INTEGER,
        block_id TEXT,
        section TEXT,
        order_id TEXT,
        value REAL,
        data TEXT
    );
    CREATE INDEX events_by_visitor ON events (shop, vid, id);
    CREATE INDEX events_by_time ON events (shop, ts);
    CREATE INDEX events_by_order ON events (shop, order_id) WHERE order_id IS NOT NULL;

    CREATE TABLE visitor_items (
        shop TEXT NOT NULL,
        vid TEXT NOT NULL,
        product_id TEXT NOT NULL,
        viewed_at REAL,
        views INTEGER NOT NULL DEFAULT 0,
        carted_at REAL,                     -- in the cart history; NULL once removed or bought
        in_cart INTEGER NOT NULL DEFAULT 0, -- in the shop's cart right now
        cart_qty INTEGER,
        fav_at REAL,
        bought_at REAL,
        last_at REAL NOT NULL,
        PRIMARY KEY (shop, vid, product_id)
    ) WITHOUT ROWID;

    CREATE TABLE product_stats (
        shop TEXT NOT NULL,
        product_id TEXT NOT NULL,
        views INTEGER NOT NULL DEFAULT 0,
        carts INTEGER NOT NULL DEFAULT 0,
        favs INTEGER NOT NULL DEFAULT 0,
        purchases INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (shop, product_id)
    ) WITHOUT ROWID;

    CREATE TABLE blocks (
        id TEXT PRIMARY KEY,
        shop TEXT NOT NULL,
        vid TEXT NOT NULL,
        ts REAL NOT NULL,
        locale TEXT NOT NULL,
        holdout INTEGER NOT NULL DEFAULT 0,
        sections TEXT NOT NULL              -- JSON [{"key": "cart", "ids": [...]}, ...]
    );
    CREATE INDEX blocks_by_time ON blocks (shop, ts);
    """,
    # 2: measured results and privacy (server/cartback/report/, server/cartback/privacy.py).
    """
    -- When a visitor first reached an empty cart with something to show (a `blocks` row, shown or
    -- held out): the holdout compares visitors from that moment on. Kept on the visitor row, whose
    -- lifetime is the visitor's, so the moment is not forgotten when raw events age out.
    ALTER TABLE visitors ADD COLUMN first_eligible_at REAL;
    UPDATE visitors SET first_eligible_at =
        (SELECT min(b.ts) FROM blocks b WHERE b.shop = visitors.shop AND b.vid = visitors.vid);

    -- Report reads: events of one type in a period; impressions and clicks of one block; one
    -- visitor's blocks (holdout eligibility, export, erase).
    CREATE INDEX events_by_type ON events (shop, type, ts);
    CREATE INDEX events_by_block ON events (shop, block_id, type, ts) WHERE block_id IS NOT NULL;
    CREATE INDEX blocks_by_visitor ON blocks (shop, vid, ts);

    -- Days whose raw events passed the shop's retention period, rolled up before deletion.
    -- One row per (day, scope, metric); scope is block, a section, totals, treatment or control;
    -- a (day, 'day', 'rolled_at') row marks the day as rolled up (the report reads it from here).
    CREATE TABLE daily_counts (
        shop TEXT NOT NULL,
        day TEXT NOT NULL,                  -- YYYY-MM-DD, UTC
        scope TEXT NOT NULL,
        metric TEXT NOT NULL,
        value REAL NOT NULL,
        PRIMARY KEY (shop, day, scope, metric)
    ) WITHOUT ROWID;
    """,
    # 3: learned neighbours for "you may also like" (server/cartback/recommend/).
    """
    -- Directed product neighbours, bounded per product (recommend.PRUNE_AT rows at most).
    CREATE TABLE rec_neighbours (
        shop TEXT NOT NULL,
        product_id TEXT NOT NULL,
        neighbour_id TEXT NOT NULL,
        score REAL NOT NULL,
        PRIMARY KEY (shop, product_id, neighbour_id)
    ) WITHOUT ROWID;

    -- Per product: how many neighbour rows it has (when to cut), signal-weighted popularity (the
    -- fallbacks), and its category as last seen by an event (the category fill's index).
    CREATE TABLE rec_products (
        shop TEXT NOT NULL,
        product_id TEXT NOT NULL,
        neighbours INTEGER NOT NULL DEFAULT 0,
        popularity REAL NOT NULL DEFAULT 0,
        category TEXT,
        PRIMARY KEY (shop, product_id)
    ) WITHOUT ROWID;
    CREATE INDEX rec_products_by_popularity ON rec_products (shop, popularity);
    CREATE INDEX rec_products_by_category ON rec_products (shop, category, popularity) WHERE category IS NOT NULL;
    """,
    # 4: product_stats was written on every event and read by nothing (the fallbacks read
    # rec_products.popularity): one write less per event.
    """
    DROP TABLE product_stats;
    """,
    # 5: events_by_time was read only by the daily retention run, which events_by_type serves as
    # well (one range per type): one index less to update per event.
    """
    DROP INDEX events_by_time;
    """,
    # 6: the cart line as it was (variant and price when carted), so the block can put it back in
    # the shop's cart and say when its price fell; when a product came back in stock.
    """
    ALTER TABLE visitor_items ADD COLUMN cart_variant TEXT;
    ALTER TABLE visitor_items ADD COLUMN cart_price REAL;
    ALTER TABLE products ADD COLUMN restocked_at REAL;
    """,
    # 7: the product details a visitor's own browser reported (JSON), shown on that visitor's cards
    # only: products.source = 'browser' rows are whatever the last browser said, and one visitor
    # must not be able to rewrite another's cards (issue 12).
    """
    ALTER TABLE visitor_items ADD COLUMN details TEXT;
    -- The per-shop caps evict the oldest first (server/cartback/caps.py).
    CREATE INDEX products_browser_by_age ON products (shop, updated_at) WHERE source = 'browser';
    CREATE INDEX visitors_by_last_seen ON visitors (shop, last_seen);
    """,
    # 8: what each event taught the recommender, when several processes serve the database
    # (server/cartback/recommend/learner.py): written in the event's transaction, applied to
    # rec_neighbours / rec_products and deleted by the one learner process.
    """
    CREATE TABLE rec_log (
        id INTEGER PRIMARY KEY,
        shop TEXT NOT NULL,
        product_id TEXT NOT NULL,
        neighbour_id TEXT,                  -- NULL: the row is product_id's popularity
        score REAL NOT NULL                 -- the forward pair's score; the learner adds the backward one
    );
    """,
    # 9: failed dashboard sign-ins (server/cartback/dashboard/lockout.py), in the database so that
    # every server process counts the same ones; a few rows per shop, each gone after 15 minutes.
    """
    CREATE TABLE sign_in_failures (
        shop TEXT NOT NULL,
        address TEXT NOT NULL,              -- a keyed hash of the client's address
        device TEXT,                        -- the browser's device cookie id; NULL: none
        at REAL NOT NULL
    );
    CREATE INDEX sign_in_failures_by_shop ON sign_in_failures (shop, at);
    """,
]




def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema up to date; returns the version reached."""
    if getattr(conn, "dialect", "sqlite") == "postgresql":
        return _migrate_postgres(conn)
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    _check(current)
    while current < len(STEPS):
        # Read again under the write lock: of several processes starting at once on a new file,
        # each runs a step only if no other has run it meanwhile.
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            _check(current)
            if current < len(STEPS):
                for statement in _split(STEPS[current]):
                    conn.execute(statement)
                current += 1
                conn.execute(f"PRAGMA user_version = {current}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(STEPS)


def _check(current: int) -> None:
    if current > len(STEPS):
        raise RuntimeError(
            f"database schema version {current} is newer than this Cartback ({len(STEPS)}); upgrade Cartback"
        )


def _migrate_postgres(conn: sqlite3.Connection) -> int:
    # One transaction for every step (PostgreSQL's DDL is transactional), under a lock: servers
    # started together wait for the first one's migration instead of running it again.
    from .locks import advisory_key
    from .pg import ddl

    conn.execute("BEGIN")
    try:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (advisory_key("migrate", conn),))
        conn.execute("CREATE TABLE IF NOT EXISTS cartback_schema (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM cartback_schema").fetchone()
        if row is None:
            conn.execute("INSERT INTO cartback_schema (version) VALUES (0)")
        current = row[0] if row else 0
        _check(current)
        for step in STEPS[current:]:
            for statement in _split(step):
                conn.execute(ddl(statement))
        if current < len(STEPS):
            conn.execute("UPDATE cartback_schema SET version = ?", (len(STEPS),))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return len(STEPS)


def _split(script: str) -> list[str]:
    # executescript() would commit on its own; splitting keeps each step in one transaction.
    statements, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    return statements
