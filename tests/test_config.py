"""config.py: where the served files are found. The wheel's side runs in test_packaging.py (slow);
this is its fast stand-in."""

from __future__ import annotations

from cartback import config
from cartback.config import REPO_ROOT, Settings, asset_dir


def test_a_checkout_serves_its_own_folders():
    settings = Settings()
    assert settings.snippet_path == REPO_ROOT / "snippet" / "dist" / "cartback.js"
    assert settings.snippet_path.is_file() and (settings.static_dir / "cartback.css").is_file()
    assert asset_dir("demo_site").is_dir()


def test_a_wheel_serves_the_copies_inside_the_package(tmp_path, monkeypatch):
    (tmp_path / "static").mkdir()
    monkeypatch.setattr(config, "_PACKAGED", tmp_path)
    assert asset_dir("static") == tmp_path / "static"
    assert asset_dir("snippet") == REPO_ROOT / "snippet"  # not packaged there: the checkout's



def test_settings_travel_to_the_workers_as_json_whole():
    # `serve --workers N` hands the parent's Settings to each worker through the environment.
    settings = Settings(db_path="/srv/c.db", port=9000, templates_dir="/t", max_db_mb=12.5, shared=True,
                        extra={"catalog_max_bytes": 10})
    back = Settings.from_json(settings.to_json())
    assert back == settings
    assert isinstance(back.snippet_path, type(settings.snippet_path)) and back.snippet_path.is_file()
