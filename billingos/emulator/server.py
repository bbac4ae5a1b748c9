"""The emulator over real HTTP, on loopback only, for clients that cannot take an in-process client.

    server = serve(Emulator(), port=0)           # bound, not yet serving
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stripe.StripeClient("sk_test_x", base_addresses={"api": f"http://127.0.0.1:{server.server_address[1]}"})

``serve_in_thread`` does both steps; ``serve_forever`` blocks (the ``billingos emulator serve`` CLI).
Paths outside ``/v1/`` and ``/v2/`` are the stand-in hosted pages (``em.hosted``); unless a host app
mounts them elsewhere, ``serve`` points ``em.hosted.base_url`` at this server.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import unquote

from .errors import StripeError

if TYPE_CHECKING:
    from .app import Emulator

__all__ = ["EmulatorServer", "serve", "serve_forever", "serve_in_thread"]

DEFAULT_PORT = 12111        # stripe-mock's port, so tools configured for it work unchanged
MAX_BODY = 10 * 1024 * 1024


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, emulator: Emulator, address: tuple[str, int]) -> None:
        self.emulator = emulator
        super().__init__(address, _Handler)


class _EmulatorServer6(EmulatorServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: EmulatorServer
    protocol_version = "HTTP/1.1"

    def _exchange(self) -> None:
        em = self.server.emulator
        if em.faults.down:          # a simulated outage: the connection drops without an answer
            self.close_connection = True
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413, "Request body too large")
            return
        raw = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        try:
            if path.startswith(("/v1/", "/v2/")):
                status, headers, content = em.handle(self.command, path, query, raw.decode("utf-8"),
                                                     dict(self.headers.items()))
                data = content.encode("utf-8")
            else:                   # the stand-in Checkout, portal and Elements pages
                status, headers, data = em.hosted.handle(self.command, unquote(path), query, raw)
        except Exception as e:      # a bug or a crashing hook: answer like Stripe's 500, not a dropped socket
            err = StripeError(f"An unknown error occurred in the emulator: {type(e).__name__}: {e}",
                              status=500, type="api_error")
            status, headers = 500, {"content-type": "application/json"}
            data = json.dumps(err.body()).encode("utf-8")
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _exchange

    def log_message(self, format: str, *args: object) -> None:
        pass                        # the emulator keeps its own request_log


def _check_loopback(host: str) -> None:
    try:
        ok = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"The emulator serves on loopback only (127.0.0.1, ::1 or localhost), not {host!r}: "
                         "it takes any test key and has no access control.")


def serve(emulator: Emulator, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> EmulatorServer:
    """A server bound to ``host:port`` (``port=0`` picks a free one); call ``serve_forever()`` on it."""
    _check_loopback(host)
    cls = _EmulatorServer6 if ":" in host else EmulatorServer
    server = cls(emulator, (host, port))
    if emulator.hosted.base_url is None:     # the stand-in pages are served here unless a host mounts them
        shown = f"[{host}]" if ":" in host else host
        emulator.hosted.base_url = f"http://{shown}:{server.server_address[1]}"
    return server


def serve_in_thread(emulator: Emulator, host: str = "127.0.0.1", port: int = 0) -> EmulatorServer:
    """Serve from a daemon thread; stop with ``server.shutdown(); server.server_close()``."""
    server = serve(emulator, host, port)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},   # quick shutdown()
                     name="billingos-emulator-http", daemon=True).start()
    return server


def serve_forever(emulator: Emulator, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
    """Block serving until interrupted."""
    server = serve(emulator, host, port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
