"""server/cartback/cli/simulate.py: `python -m cartback.simulate`, its summary and its errors."""

from __future__ import annotations

from cartback.cli.simulate import main

from tests.conftest import free_port


def test_a_server_that_does_not_answer_is_an_error_naming_it_not_a_traceback(capsys):
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["--url", url, "--key", "cb_x", "--days", "5", "--visitors", "5"]) == 1
    err = capsys.readouterr().err
    assert "python -m cartback.simulate: error: the simulation failed: the widget server did not answer" in err
    assert "Traceback" not in err


def test_a_short_run_prints_its_summary(cartback_server, capsys):
    from tests.conftest import add_shop, put_products
    from tests.test_simulate import ORIGIN, demo_products

    shop = add_shop(cartback_server.db_path, [ORIGIN], settings={"platform": "shopify"})
    put_products(cartback_server.db_path, shop.id, demo_products())
    assert main(["--url", cartback_server.url, "--shop", shop.id, "--key", shop.api_key, "--days", "2",
                 "--visitors", "10"]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("\nSimulated 10 visitors") and "simulating: day" in out.err
