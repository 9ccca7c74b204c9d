"""The command line as a merchant uses it: `cartback.cli.main` in this process (an interpreter
start and the imports each would be most of these tests' time), and `python -m cartback` once."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys

from cartback.cli import main

from tests.conftest import REPO, new_database


def cartback(*args: str) -> subprocess.CompletedProcess:
    """What `python -m cartback ARGS` would give: its exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's own errors
            code = exc.code if isinstance(exc.code, int) else 1
    return subprocess.CompletedProcess(["cartback", *args], code, out.getvalue(), err.getvalue())


def test_python_m_cartback_exits_with_the_commands_code(tmp_path):
    db = new_database(tmp_path, "cli.db")
    ok = subprocess.run([sys.executable, "-m", "cartback", "shop", "add", "bal", "--origin", "https://bal.example",
                         "--db", db], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and ok.stdout.strip().splitlines()[-1].startswith("cb_"), ok.stderr
    again = subprocess.run([sys.executable, "-m", "cartback", "shop", "add", "bal", "--origin", "https://bal.example",
                            "--db", db], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_shop_add_prints_a_key_once_and_refuses_bad_input(tmp_path):
    db = new_database(tmp_path, "cli.db")
    ok = cartback("shop", "add", "bal", "--origin", "https://bal.example", "--db", db)
    assert ok.returncode == 0
    key = ok.stdout.strip().splitlines()[-1]
    assert key.startswith("cb_") and len(key) > 20
    again = cartback("shop", "add", "bal", "--origin", "https://bal.example", "--db", db)
    assert again.returncode == 2 and "already exists" in again.stderr
    bad = cartback("shop", "add", "Bad Id", "--origin", "https://x.example", "--db", db)
    assert bad.returncode == 2 and "shop" in bad.stderr
    bad_origin = cartback("shop", "add", "x", "--origin", "ftp://x.example", "--db", db)
    assert bad_origin.returncode == 2 and "origin" in bad_origin.stderr
    bad_cur = cartback("shop", "add", "y", "--origin", "https://y.example", "--currency", "lira", "--db", db)
    assert bad_cur.returncode == 2 and "currency" in bad_cur.stderr


def test_shop_set_changes_settings_and_names_bad_ones(tmp_path):
    db = new_database(tmp_path, "cli.db")
    cartback("shop", "add", "bal", "--origin", "https://bal.example", "--db", db)
    ok = cartback("shop", "set", "bal", "max_block=6", 'sections=["viewed","cart"]', "--db", db)
    assert ok.returncode == 0, ok.stderr
    settings = json.loads(ok.stdout)
    assert settings["max_block"] == 6 and settings["sections"] == ["viewed", "cart"]
    bad = cartback("shop", "set", "bal", "holdout_share=2", "--db", db)
    assert bad.returncode == 2 and "settings.holdout_share" in bad.stderr


def test_shop_add_names_the_platform_and_its_id_field(tmp_path):
    db = new_database(tmp_path, "cli.db")
    ok = cartback("shop", "add", "bal", "--origin", "https://bal.example", "--platform", "shopify",
                  "--id-field", "variant", "--db", db)
    assert ok.returncode == 0, ok.stderr
    shown = json.loads(cartback("shop", "set", "bal", "platform=woocommerce", "--db", db).stdout)
    assert shown["platform"] == "woocommerce" and shown["id_field"] == "variant"
    off = json.loads(cartback("shop", "set", "bal", "platform=null", "--db", db).stdout)
    assert off["platform"] is None
    bad = cartback("shop", "add", "wix", "--origin", "https://w.example", "--platform", "wix", "--db", db)
    assert bad.returncode == 2 and "--platform" in bad.stderr


def test_a_lost_key_is_replaced_and_the_old_one_stops_working(tmp_path):
    from cartback.connection import connect_sync
    from cartback.shops import get_shop

    db = new_database(tmp_path, "cli.db")
    first = cartback("shop", "add", "bal", "--origin", "https://bal.example", "--db", db).stdout.split()[-1]
    shown = cartback("shop", "key", "bal", "--db", db)
    assert shown.returncode == 2 and "cannot be shown again" in shown.stderr and "--rotate" in shown.stderr
    rotated = cartback("shop", "key", "bal", "--rotate", "--db", db)
    assert rotated.returncode == 0, rotated.stderr
    second = rotated.stdout.split()[-1]
    assert second.startswith("cb_") and second != first
    shop = get_shop(connect_sync(db), "bal")
    assert shop is not None and shop.check_key(second) and not shop.check_key(first)
    unknown = cartback("shop", "key", "nope", "--rotate", "--db", db)
    assert unknown.returncode == 2 and unknown.stderr.startswith("cartback: error: shop: no shop 'nope'")


def test_a_setting_changed_from_the_command_line_reaches_the_running_server_within_a_second(cartback_server, api):
    # Another process (this command) changes the shop; the server's registry sees the shops'
    # version row move at its next look (every half second), not when its 30-second entry expires.
    import subprocess
    import sys

    from tests.conftest import REPO, add_shop, eventually

    shop = add_shop(cartback_server.db_path, ["http://shop.test"])
    assert api.get("/v1/config", params={"shop": shop.id}).json()["platform"] is None
    done = subprocess.run([sys.executable, "-m", "cartback", "shop", "set", shop.id, "platform=woocommerce",
                           "--db", str(cartback_server.db_path)], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert eventually(lambda: api.get("/v1/config", params={"shop": shop.id}).json()["platform"],
                      "woocommerce", 1.0) == "woocommerce", "the server still answers with the old settings"


def test_serve_needs_at_least_one_worker(capsys):
    from cartback.cli import main

    assert main(["serve", "--workers", "0", "--db", "unused.db"]) == 2
    assert capsys.readouterr().err == "cartback: error: --workers: at least 1, not 0\n"
