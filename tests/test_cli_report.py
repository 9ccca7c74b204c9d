"""`cartback report` (server/cartback/cli/report.py): the terminal table in the shop's locale, the CSV
as the API gives it, "No data yet" for a fresh shop."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from cartback.cli import main

from tests.conftest import REPO, new_database
from tests.test_report import script_period


@pytest.fixture
def scripted(api, make_shop, seed_catalog):
    return script_period(api, make_shop, seed_catalog)


def test_the_terminal_table(scripted, cartback_server, capsys):
    cb, d, _ = scripted
    end = d + timedelta(days=10)

    def report(*args: str) -> tuple[int, str, str]:
        code = main(["report", cb.shop.id, "--db", str(cartback_server.db_path), *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    code, text, err = report("--from", d.isoformat(), "--to", end.isoformat())
    assert code == 0, err
    assert f"{d.isoformat()} to {end.isoformat()}" in text
    assert "Attribution window: 7 days" in text and "Attributed revenue (7 d)" in text
    lines = text.splitlines()
    header = next(line for line in lines if line.split()[:5] == ["block", "cart", "viewed", "favorites", "similar"])
    rendered = next(line for line in lines if line.startswith("Rendered"))
    ctr = next(line for line in lines if line.startswith("CTR (visitors)"))
    revenue = next(line for line in lines if line.startswith("Attributed revenue"))
    assert rendered.split()[1:] == ["6", "2", "4", "1", "0"]
    # Every number in the shop's locale (tr), as its money: "%80,0", "₺600,00".
    assert ctr.split()[2:] == ["%80,0", "%100,0", "%75,0", "%0,0", "%0,0"]
    assert "₺600,00" in revenue and "₺480,00" in revenue
    # Right-aligned columns: every row of the table ends at the same place as its header.
    assert len(rendered) == len(ctr) == len(revenue) == len(header.rstrip())
    assert "not yet" in text or "holdout is off" in text
    assert f"{(d + timedelta(days=1)).isoformat()}" in text  # the daily series

    code, as_csv, _ = report("--from", d.isoformat(), "--to", end.isoformat(), "--csv")
    assert code == 0
    assert as_csv.replace("\r\n", "\n") == cb.report_response(d, end, format="csv").text.replace("\r\n", "\n")

    code, _, err = report("--from", "yesterday")
    assert code == 2 and err.startswith("cartback: error: from:")


def test_a_fresh_shop_says_there_is_no_data_yet(tmp_path):
    db = new_database(tmp_path, "fresh.db")
    run = lambda *a: subprocess.run([sys.executable, "-m", "cartback", *a, "--db", db], cwd=REPO,  # noqa: E731
                                    capture_output=True, text=True, timeout=60)
    assert run("shop", "add", "fresh", "--origin", "https://fresh.example", "--locale", "en").returncode == 0
    out = run("report", "fresh")
    assert out.returncode == 0, out.stderr
    assert "No data yet" in out.stdout and "Daily" not in out.stdout
    assert len(out.stdout.splitlines()) < 40, "no 90 rows of zeros"


def test_read_only_commands_refuse_a_missing_database_and_create_nothing(tmp_path):
    missing = tmp_path / "nowhere.db"
    for args in (["report", "demo"], ["shop", "set", "demo", "max_block=4"], ["shop", "key", "demo", "--rotate"],
                 ["catalog", "import", "demo", str(tmp_path / "feed.csv")]):
        out = subprocess.run([sys.executable, "-m", "cartback", *args, "--db", str(missing)], cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 2, (args, out.stderr)
        assert out.stderr.startswith("cartback: error: --db: no database at"), (args, out.stderr)
        assert str(missing) in out.stderr
        assert not missing.exists() and not list(tmp_path.glob("*.db*")), args
