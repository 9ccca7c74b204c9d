"""The widget server and the demo shop served together by `cartback demo`: two uvicorn servers in one
asyncio loop, on sockets bound beforehand (so a busy port is an error before anything starts, and
port 0 gives the actual port to print), stopped together by one Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Callable, Generator

import uvicorn
from starlette.types import ASGIApp


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this. Without it, uvicorn on a socket handed over under plain asyncio
    # waits on Nagle + delayed ACK: ~40 ms a request instead of under 1 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)  # now, so a second bind to the same port fails here, not in uvicorn
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def public_host(host: str) -> str:
    """The address a browser on this machine uses for a server listening on `host`."""
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


class _Server(uvicorn.Server):
    """uvicorn.Server without its own signal handling: the demo stops both servers on one Ctrl-C."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def serve_both(widget_app: ASGIApp, shop_app: ASGIApp, widget_sock: socket.socket,
                     shop_sock: socket.socket, log_level: str, on_started: Callable[[], None]) -> None:
    """Serve both apps until SIGINT or SIGTERM; `on_started` runs once both accept connections."""
    servers = [
        _Server(uvicorn.Config(widget_app, log_level=log_level, access_log=log_level == "debug",
                               timeout_graceful_shutdown=3)),
        _Server(uvicorn.Config(shop_app, log_level=log_level, access_log=log_level == "debug", lifespan="off",
                               timeout_graceful_shutdown=3)),
    ]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for s in servers:
            s.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
            pass
    tasks = [asyncio.ensure_future(servers[0].serve(sockets=[widget_sock])),
             asyncio.ensure_future(servers[1].serve(sockets=[shop_sock]))]
    while not all(s.started for s in servers):
        done = [t for t in tasks if t.done()]
        if done:
            stop()
            await asyncio.gather(*tasks, return_exceptions=True)
            for t in done:
                t.result()
            raise RuntimeError("a server stopped during start-up")
        await asyncio.sleep(0.02)
    on_started()
    await asyncio.gather(*tasks)
