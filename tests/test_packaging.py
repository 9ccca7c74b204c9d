"""What `pip install .` gives a merchant: the wheel alone, away from this checkout, serves the
snippet, the block's stylesheet, the dashboard and the demo shop."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, Demo, ServerProcess

# A wheel build (pip, setuptools) and installed servers started from it: CI's tier, not every change's.
pytestmark = pytest.mark.slow

SHIPPED = ("server", "snippet", "static", "demo_site")


@pytest.fixture(scope="module")
def built_wheel(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    # Built from a copy: a build in the checkout would leave build/ and egg-info behind.
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    for name in SHIPPED:
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "node_modules"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-q", "-w", str(tmp / "dist")],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    return next((tmp / "dist").glob("cartback-*.whl"))


@pytest.fixture(scope="module")
def unpacked_wheel(built_wheel: Path) -> Path:
    site = built_wheel.parent.parent / "site"
    with zipfile.ZipFile(built_wheel) as wheel:
        wheel.extractall(site)
    return site


def wheel_env(site: Path) -> dict[str, str]:
    # The wheel ahead of this checkout; the dependencies come from the test environment.
    return {**os.environ, "PYTHONPATH": str(site)}


def test_the_wheel_holds_every_module_and_served_file(unpacked_wheel):
    package = unpacked_wheel / "cartback"
    source = REPO / "server" / "cartback"
    for module in sorted(source.rglob("*.py")):
        assert (package / module.relative_to(source)).is_file(), module
    # The import package is cartback alone: nothing may claim a top-level `server` module.
    assert not (unpacked_wheel / "server").exists()
    # Of the snippet, only what the build made ships (the server serves nothing else of it).
    served = [*(REPO / "snippet" / "dist").glob("*.js"), *(REPO / "static").rglob("*"),
              *(REPO / "demo_site").rglob("*")]
    assert REPO / "snippet" / "dist" / "cartback.js" in served
    for f in served:
        if f.is_file() and "__pycache__" not in f.parts:
            assert (package / "_assets" / f.relative_to(REPO)).is_file(), f
    assert not (package / "_assets" / "snippet" / "src").exists()
    where = subprocess.run([sys.executable, "-c", "import cartback; print(cartback.__file__)"],
                           cwd=unpacked_wheel.parent, env=wheel_env(unpacked_wheel), capture_output=True, text=True,
                           timeout=60)
    assert Path(where.stdout.strip()).is_relative_to(unpacked_wheel)


def test_the_installed_server_serves_the_snippet_and_styles(unpacked_wheel, tmp_path):
    server = ServerProcess(tmp_path / "wheel.db", cwd=tmp_path, env=wheel_env(unpacked_wheel)).start()
    try:
        snippet = httpx.get(server.url + "/snippet.js")
        assert snippet.status_code == 200
        assert snippet.content == (REPO / "snippet" / "dist" / "cartback.js").read_bytes()
        css = httpx.get(server.url + "/static/cartback.css")
        assert css.status_code == 200 and css.content == (REPO / "static" / "cartback.css").read_bytes()
        assert httpx.get(server.url + "/static/dashboard/dashboard.css").status_code == 200
    finally:
        server.stop()


def test_the_installed_demo_shows_the_shop_and_its_images(unpacked_wheel, tmp_path):
    demo = Demo(tmp_path / "demo.db", cwd=tmp_path, env=wheel_env(unpacked_wheel))
    try:
        home = httpx.get(demo.shop + "/")
        assert home.status_code == 200 and "/static/img/" in home.text
        image = home.text.split("/static/img/", 1)[1].split('"', 1)[0]
        assert httpx.get(f"{demo.shop}/static/img/{image}").status_code == 200
        assert httpx.get(demo.widget + "/snippet.js").status_code == 200
    finally:
        demo.stop()
    assert demo.proc.returncode == 0, "\n".join(demo.lines)


def test_the_offline_evaluation_says_it_needs_a_checkout(unpacked_wheel, tmp_path):
    run = subprocess.run([sys.executable, "-m", "cartback", "evaluate"], cwd=tmp_path, env=wheel_env(unpacked_wheel),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "source checkout" in run.stderr and "Traceback" not in run.stderr


def test_the_wheel_installs_and_runs_in_a_clean_venv(built_wheel, tmp_path):
    # A venv of its own, without this environment's packages: the wheel's declared dependencies
    # are all it gets (from the package index, or pip's cache after .ci/run's install).
    import venv

    venv.create(tmp_path / "venv", with_pip=True)
    bin_dir = tmp_path / "venv" / "bin"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    installed = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                                str(built_wheel)], env=env, capture_output=True, text=True, timeout=900)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    where = subprocess.run([str(bin_dir / "python"), "-c", "import cartback; print(cartback.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(tmp_path / "venv")
    command = subprocess.run([str(bin_dir / "cartback"), "--help"], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=60)
    assert command.returncode == 0 and "serve" in command.stdout
