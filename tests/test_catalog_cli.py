"""`cartback catalog import` (server/cartback/cli/catalog.py): exit codes, the summary, the progress bar."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from cartback.cli.catalog import ProgressBar, cli_import

from tests.test_catalog import DATA, REPO, make_db, write_csv_feed


@pytest.fixture
def db_path(tmp_path):
    return make_db(tmp_path)


def test_cli_import(db_path, tmp_path, capsys):
    feed = tmp_path / "feed.csv"
    feed.write_text("id,name,price\na,A,1\nb,B,x\n", encoding="utf-8")
    code = cli_import(str(db_path), "demo", str(feed), None, False)
    out, err = capsys.readouterr()
    assert code == 3  # imported, with a rejected row
    assert "1 created" in out and "1 rejected" in out
    assert "line 3 (id b): price: 'x' is not a price" in out
    assert "\r" not in err  # not a terminal: no progress bar
    feed.write_text("id,name,price\na,A,1\n", encoding="utf-8")
    assert cli_import(str(db_path), "demo", str(feed), "csv", True) == 0
    out, _ = capsys.readouterr()
    assert "1 updated" in out


def test_cli_errors(db_path, tmp_path, capsys):
    assert cli_import(str(db_path), "nope", str(DATA / "products.csv"), None, False) == 1
    assert "no shop 'nope'" in capsys.readouterr().err
    assert cli_import(str(db_path), "demo", str(tmp_path / "missing.csv"), None, False) == 1
    assert "cannot open" in capsys.readouterr().err
    assert cli_import(str(tmp_path / "none.db"), "demo", str(DATA / "products.csv"), None, False) == 1
    assert not (tmp_path / "none.db").exists()
    assert cli_import(str(db_path), "demo", str(DATA / "xml_bomb.xml"), None, False) == 1
    assert "DOCTYPE" in capsys.readouterr().err
    assert cli_import(str(db_path), "demo", str(DATA / "products.csv"), "pdf", False) == 1


def test_cli_command_end_to_end(db_path):
    # The real command, as a merchant runs it (cli/__init__.py calls cli_import).
    out = subprocess.run([sys.executable, "-m", "cartback", "catalog", "import", "demo", str(DATA / "google_rss.xml"),
                          "--db", str(db_path)], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 3, out.stderr
    assert "2 created" in out.stdout and "line 34 (id kestane-460)" in out.stdout


def test_progress_bar_redraws_on_one_line():
    stream = io.StringIO()
    bar = ProgressBar(1000, stream, interval=0)
    bar(250, 10)
    bar(1000, 40)
    bar.finish()
    text = stream.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n") and "\n" not in text[:-1]
    assert " 25.0%" in text and "100.0%" in text and "rows/s" in text and "40 rows" in text
    unknown = ProgressBar(None, io.StringIO(), interval=0)
    assert "read" in unknown.line(2048, 5)


def test_progress_bar_on_a_terminal(db_path, tmp_path):
    # stderr as a real pseudo-terminal: the bar is drawn with carriage returns, the summary follows.
    pty = pytest.importorskip("pty")
    feed = tmp_path / "feed.csv"
    write_csv_feed(feed, 3000)
    code = (f"import sys; sys.path.insert(0, {str(REPO / 'server')!r}); from cartback.cli.catalog import cli_import; "
            f"sys.exit(cli_import({str(db_path)!r}, 'demo', {str(feed)!r}, None, False))")
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    stdout, _ = proc.communicate(timeout=60)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    err = b"".join(chunks).decode()
    assert proc.returncode == 0
    assert "\r" in err and "100.0%" in err and "rows/s" in err
    assert "3,000 created" in stdout


def test_an_import_running_elsewhere_refuses_this_one_with_the_apis_words(db_path, capsys):
    from cartback.locks import shop_locks

    # A server's import of the shop (any process) holds the same lock: a file beside a SQLite
    # database, an advisory lock on PostgreSQL.
    with shop_locks(str(db_path)).hold("demo"):
        assert cli_import(str(db_path), "demo", str(DATA / "products.csv"), None, False) == 1
    assert capsys.readouterr().err == "cartback: shop: an import for this shop is running; retry when it has finished\n"
    assert cli_import(str(db_path), "demo", str(DATA / "products.csv"), None, False) in (0, 3)
