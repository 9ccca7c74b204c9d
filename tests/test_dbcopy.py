"""`cartback db copy FROM TO` (server/cartback/dbcopy.py, cli/db.py): a database built by the real
server moved to the other backend and back, row for row; the copy's own check; a server on the
copy knows the visitors' tokens and takes new events; refusals that write nothing.

Whatever the test backend, these tests need PostgreSQL: the database on the other side of the
round trip is one (CARTBACK_TEST_BACKEND=postgresql only swaps which side is which)."""

from __future__ import annotations

import io
import re
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from cartback.cli import main
from cartback.cli.db import CopyProgress
from cartback.connection import connect_sync
from cartback.report import build_report
from cartback.shops import get_shop

from tests.conftest import POSTGRES, REPO, LocalServer, ServerProcess, add_shop, new_database
from tests.test_report import (
    SECTIONS_NO_SIMILAR,
    Client,
    add,
    catalog_rows,
    click,
    day_and_time,
    empty_cart,
    impression,
    purchase,
    today,
    view,
)

ORIGIN = "http://shop.test"
TABLES = ["blocks", "daily_counts", "events", "meta", "products", "rec_log", "rec_neighbours", "rec_products",
          "shops", "sign_in_failures", "visitor_items", "visitors"]


def other_backend(tmp_path: Path, pg_database: str, name: str) -> str:
    """A new database on the backend the tests do not run on (`pg_database`: conftest's)."""
    return str(tmp_path / name) if POSTGRES else pg_database


def copy(capsys, source: str, target: str) -> tuple[int, str, str]:
    code = main(["db", "copy", source, target])
    out = capsys.readouterr()
    return code, out.out, out.err


def contents(db: str) -> dict[str, list[tuple]]:
    """Every row of every table, in one order whatever the backend returns them in."""
    conn = connect_sync(db)
    try:
        return {t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in TABLES}
    finally:
        conn.close()


def report_of(db: str, shop_id: str, days: int = 30) -> dict:
    conn = connect_sync(db)
    try:
        shop = get_shop(conn, shop_id)
        assert shop is not None
        return build_report(conn, shop, today() - timedelta(days=days), today())
    finally:
        conn.close()


def shown(r: httpx.Response) -> list[str]:
    return re.findall(r'data-cartback-product="([^"]+)"', r.text) if r.status_code == 200 else []


def build_source(server: LocalServer) -> dict:
    """Two shops' worth of everything the server stores, through its API: a catalog, visitors who
    view, cart and favour, blocks (one held out), impressions, clicks, purchases, learned neighbours."""
    api = server.client
    shops = {}
    # honey's block: the visitor's own history only, which a server shows the same whatever it has
    # learned yet (in shared mode the learner applies the log in its own time).
    for name, settings in (("honey", {"holdout_share": 0, "sections": SECTIONS_NO_SIMILAR}),
                           ("tea", {"holdout_share": 0.5})):
        shop = add_shop(server.db_path, [ORIGIN], shop_id=name, settings=settings)
        body = "id,name,price,url\n" + "".join(f"{p['id']},{p['name']},{p['price']},{p['url']}\n"
                                               for p in catalog_rows())
        r = api.put(f"/v1/shops/{name}/catalog", content=body, headers={"authorization": f"Bearer {shop.api_key}"})
        assert r.status_code == 200, r.text
        shops[name] = Client(api, shop)
    d, t = day_and_time(10, 10)
    tokens = {}
    for name, cb in shops.items():
        for n in range(12):
            ts = t + n * 3600
            vid = cb.visitor([view("a", ts - 60), view("b", ts - 50), view("c", ts - 40), add("b", ts - 30),
                              add("d", ts - 20), empty_cart(ts - 10)])
            status, block, _, _ = cb.render(vid, ts)
            if status == 200 and block:
                cb.send(vid, [impression(block, ts + 5), click(block, "b", ts + 10, "cart")])
            if n % 3 == 0:
                cb.send(vid, [purchase(f"O{n}", ts + 86400, [{"id": "b", "price": 200, "qty": 1}], 200)])
            tokens[(name, n)] = vid
    # A wrong key on the dashboard: the shop's lockout count goes along too.
    assert api.post("/dashboard/login", data={"shop": "tea", "key": "cb_guess"}).status_code == 401
    # A visitor with a cart history and no block yet: the block every copy must show the same.
    honey = shops["honey"]
    last = honey.visitor([view("e", t), add("f", t + 1), add("a", t + 2), empty_cart(t + 3)])
    return {"shops": list(shops), "visitor": last, "first_day": d}


def block_for(server: LocalServer, vid: str) -> list[str]:
    assert server.client is not None
    r = server.client.get("/v1/empty-cart", params={"shop": "honey", "vid": vid, "locale": "en"})
    assert r.status_code == 200, r.text
    return shown(r)


def check_serves(db: str, vid: str, expected: list[str]) -> None:
    """A server on `db` shows `vid` the block the first server showed (the secret came along) and
    takes a new event (identity values follow the copied ones)."""
    conn = connect_sync(db)
    top = conn.execute("SELECT max(id), count(*) FROM events").fetchone()
    conn.close()
    server = LocalServer(db, count_bots=True).start()
    try:
        assert block_for(server, vid) == expected
        assert server.client is not None
        r = server.client.post("/v1/events", json={"shop": "honey", "vid": vid,
                                                   "events": [{"type": "add", "product": "c"}]})
        assert r.status_code == 200, r.text
        assert r.json()["vid"] == vid  # the token was accepted, not replaced by a new visitor's
    finally:
        server.stop()
    conn = connect_sync(db)
    after = conn.execute("SELECT max(id), count(*) FROM events").fetchone()
    conn.close()
    assert after[1] == top[1] + 1 and after[0] > top[0]


def test_a_round_trip_through_the_other_backend_keeps_every_row_report_and_token(
        tmp_path, local_server, pg_database, capsys):
    server = local_server(count_bots=True, rate_limit_per_minute=0)
    source = str(server.db_path)
    built = build_source(server)
    expected_block = block_for(server, built["visitor"])
    assert expected_block  # the visitor's cart history is there to show
    server.stop()
    before = contents(source)
    assert all(before[t] for t in ("shops", "meta", "products", "events", "blocks", "visitors", "visitor_items",
                                   "sign_in_failures")), \
        {t: len(rows) for t, rows in before.items()}
    # Learned neighbours: applied (a server alone), or still in the log (shared mode, PostgreSQL).
    assert (before["rec_neighbours"] and before["rec_products"]) or before["rec_log"], "nothing learned"
    assert any(r[4] == "purchase" for r in before["events"])

    middle = other_backend(tmp_path, pg_database, "middle.db")
    final = new_database(tmp_path, "final.db")
    for source_db, target_db in ((source, middle), (middle, final)):
        code, out, err = copy(capsys, source_db, target_db)
        assert code == 0, out + err
        assert f"rows of {len(TABLES)} tables from" in out
        assert f"checked: row counts of {len(TABLES)} tables; reports of 2 shops from " \
               f"{built['first_day'].isoformat()} to {today().isoformat()}: equal on both sides" in out

    # Checked independently of the copy's own check: every row, every report.
    assert contents(final) == before
    assert contents(middle) == before
    for shop in built["shops"]:
        assert report_of(final, shop) == report_of(source, shop) == report_of(middle, shop)
        assert report_of(source, shop)["block"]["clicks"] > 0
        assert report_of(source, shop)["totals"]["orders"] > 0

    check_serves(middle, built["visitor"], expected_block)
    check_serves(final, built["visitor"], expected_block)


def test_a_target_that_is_not_empty_is_refused_and_left_as_it_was(tmp_path, pg_database, capsys):
    source = new_database(tmp_path, "source.db")
    add_shop(source, [ORIGIN], shop_id="honey")
    for target in (other_backend(tmp_path, pg_database, "busy.db"), new_database(tmp_path, "busy2.db")):
        add_shop(target, [ORIGIN], shop_id="tea")
        before = contents(target)
        code, out, err = copy(capsys, source, target)
        assert code == 2 and out == ""
        assert err.startswith("cartback db copy: error: TO ") and "is not empty (shops: 1 row)" in err
        assert target.split("//")[-1] in err and "nothing was written" in err
        assert contents(target) == before


def test_a_target_a_server_ran_on_is_empty_and_takes_the_sources_secret(tmp_path, pg_database, capsys):
    source = new_database(tmp_path, "source.db")
    add_shop(source, [ORIGIN], shop_id="honey")
    target = other_backend(tmp_path, pg_database, "served.db")
    LocalServer(target).start().stop()  # wrote its own secret, and nothing else
    assert [k for (k, _) in contents(target)["meta"]] == ["secret"]
    code, out, _ = copy(capsys, source, target)
    assert code == 0 and "(TO's own 1 meta rows" in out
    assert contents(target)["meta"] == contents(source)["meta"]


def test_refusals_name_the_database_and_create_nothing(tmp_path, capsys):
    missing, target = tmp_path / "nowhere.db", tmp_path / "new.db"
    code, _, err = copy(capsys, str(missing), str(target))
    assert code == 2 and f"FROM {missing}: no such database file" in err
    assert not target.exists() and not missing.exists()

    source = new_database(tmp_path, "source.db")
    add_shop(source, [ORIGIN], shop_id="honey")
    code, _, err = copy(capsys, source, source)
    assert code == 2 and "FROM and TO are the same database" in err

    code, _, err = copy(capsys, source, "postgresql://root@127.0.0.1:5432/cartback_no_such_database")
    assert code == 2 and "TO postgresql://root@127.0.0.1:5432/cartback_no_such_database: PostgreSQL unavailable" in err

    newer = tmp_path / "newer.db"
    conn = sqlite3.connect(newer)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    code, _, err = copy(capsys, str(newer), str(target))
    assert code == 2 and f"FROM {newer}: database schema version 999 is newer than this Cartback" in err
    assert not target.exists()

    # A password never reaches the terminal.
    code, _, err = copy(capsys, source, "postgresql://root:s3cret@127.0.0.1:5432/cartback_no_such_database")
    assert code == 2 and "s3cret" not in err and "root:***@" in err


@pytest.mark.skipif(POSTGRES, reason="a SQLite file's serve lock")
def test_a_sqlite_target_being_served_is_refused(tmp_path, capsys):
    source, target = tmp_path / "source.db", tmp_path / "served.db"
    add_shop(source, [ORIGIN], shop_id="honey")
    server = ServerProcess(target).start()
    try:
        code, _, err = copy(capsys, str(source), str(target))
    finally:
        server.stop()
    assert code == 2 and f"TO {target} is being served (pid" in err


def test_a_copy_that_fails_half_way_leaves_the_target_empty(tmp_path, pg_database, capsys):
    # A NUL in a text: SQLite stores it, PostgreSQL refuses it, on the last row of the last table.
    source, target = str(tmp_path / "source.db"), pg_database
    add_shop(source, [ORIGIN], shop_id="honey")
    conn = sqlite3.connect(source)
    with conn:
        conn.executemany("INSERT INTO visitors (shop, vid, first_seen, last_seen) VALUES ('honey', ?, 1, 1)",
                         [(f"v{n}",) for n in range(12_000)] + [("v\x00",)])
    conn.close()
    code, out, err = copy(capsys, source, target)
    assert code == 1 and out == "", err
    assert "the copy failed" in err and "was left as it was" in err
    assert {t: len(rows) for t, rows in contents(target).items()} == dict.fromkeys(TABLES, 0)

    conn = sqlite3.connect(source)
    with conn:
        conn.execute("DELETE FROM visitors WHERE vid = ?", ("v\x00",))
    conn.close()
    code, out, err = copy(capsys, source, target)  # the same command, once the row is mended
    assert code == 0, err
    assert "visitors 12,000" in out


def test_the_progress_bar_counts_rows_of_the_whole_copy():
    stream = io.StringIO()
    bar = CopyProgress(stream)
    bar.table_done("events", 500, 2000)
    bar.finish()
    text = stream.getvalue()
    assert text.startswith("\r") and text.endswith("\n")
    assert " 25.0% [######..................] 500 / 2,000 rows" in text and text.rstrip().endswith("events")


def test_a_database_a_server_is_serving_can_be_copied(tmp_path, local_server, pg_database, capsys):
    # On PostgreSQL the server's learner holds an advisory lock for its whole life; the copy's
    # migration check must not wait for it (nor for anything else a server holds on SQLite).
    server = local_server(count_bots=True)
    add_shop(server.db_path, [ORIGIN], shop_id="honey")
    code, out, err = copy(capsys, str(server.db_path), other_backend(tmp_path, pg_database, "copy.db"))
    assert code == 0, err
    assert "equal on both sides" in out


def snapshot_source(tmp_path: Path, pg_database: str, backend: str) -> str:
    """A database on `backend` with enough rows for a copy to take a while."""
    source = str(tmp_path / "live.db") if backend == "sqlite" else pg_database
    add_shop(source, [ORIGIN], shop_id="honey")
    conn = connect_sync(source)
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO events (shop, vid, ts, type, product_id) VALUES ('honey', ?, ?, 'view', ?)",
                     [(f"v{n % 5000}", time.time() - 3600 + n / 100, f"p{n % 300}") for n in range(150_000)])
    conn.execute("COMMIT")
    conn.close()
    return source


@pytest.mark.slow  # a server process under load for the length of a copy
@pytest.mark.timeout(180)
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_copy_of_a_database_being_written_is_one_moment_of_it(tmp_path, pg_database, backend):
    source = snapshot_source(tmp_path, pg_database, backend)
    server = ServerProcess(source, "--rate-limit", "0", "--address-limit", "0", "--count-bots").start()
    stop, posted = threading.Event(), []

    def write() -> None:
        with httpx.Client(base_url=server.url, timeout=5) as c:
            while not stop.is_set():
                # A new visitor each time: a visitors row, two visitor_items rows and two events rows.
                r = c.post("/v1/events", json={"shop": "honey", "events": [{"type": "add", "product": "x"},
                                                                          {"type": "add", "product": "y"}]})
                posted.append(r.status_code)

    writers = [threading.Thread(target=write) for _ in range(2)]
    for w in writers:
        w.start()
    try:
        time.sleep(0.5)
        target = str(tmp_path / "snapshot.db") if backend == "postgresql" else pg_database
        out = subprocess.run([sys.executable, "-m", "cartback", "db", "copy", source, target], cwd=REPO,
                             capture_output=True, text=True, timeout=150)
        during = len(posted)
        time.sleep(0.3)
    finally:
        stop.set()
        for w in writers:
            w.join()
        server.stop()
    assert out.returncode == 0, out.stdout + out.stderr
    assert "equal on both sides" in out.stdout
    assert during > 10 and set(posted) == {200}, "the server was not writing during the copy"
    copied = contents(target)
    # One moment of every table, not each table at the moment it was read (events are copied before
    # visitors and visitor_items): each request's rows in all three, or in none.
    visitors = {r[1] for r in copied["visitors"]}
    for pid in ("x", "y"):
        assert {r[2] for r in copied["events"] if r[5] == pid} == visitors
        assert {r[1] for r in copied["visitor_items"] if r[2] == pid} == visitors
    assert 0 < len(visitors) < len(posted)
