"""server/cartback/cli/demo.py and demo/servers.py: `cartback demo`'s options and its start-up errors.
The command started for real, both servers and a browser, is tests/browser/test_demo.py."""

from __future__ import annotations

import socket

import pytest
from cartback.cli import main as cartback
from cartback.cli.demo import build_parser


def test_a_busy_port_is_a_clear_error_before_anything_is_written(tmp_path, capsys):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        port = busy.getsockname()[1]
        db = tmp_path / "demo.db"
        assert cartback(["demo", "--port", str(port), "--shop-port", "0", "--db", str(db)]) == 1
    finally:
        busy.close()
    err = capsys.readouterr().err
    assert err.startswith("cartback demo: error: cannot listen on 127.0.0.1:") and "(try --port / --shop-port)" in err
    assert not db.exists(), "no database is created when the servers cannot start"


def test_options_and_their_defaults():
    args = build_parser().parse_args([])
    assert (args.host, args.port, args.shop_port, args.db, args.simulate) == (
        "127.0.0.1", 8000, 8001, "cartback-demo.db", None)
    assert build_parser().parse_args(["--simulate"]).simulate == 3000
    assert build_parser().parse_args(["--simulate", "50"]).simulate == 50
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--port", "x"])


def test_a_database_another_server_serves_is_refused_before_anything_is_written(tmp_path, capsys):
    from tests.conftest import ServerProcess

    db = tmp_path / "shared.db"
    server = ServerProcess(db).start()
    try:
        assert cartback(["demo", "--db", str(db), "--port", "0", "--shop-port", "0"]) == 2
    finally:
        server.stop()
    err = capsys.readouterr().err
    assert err.startswith(f"cartback demo: error: {db} is already served by another cartback process")
