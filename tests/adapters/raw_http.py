"""Requests sent straight to the WSGI and ASGI apps, below any test client: the path goes as written (no
client normalises ``//``), a body can be chunked without a Content-Length, and the test sees how many
bytes the app read."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, unquote_to_bytes


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    read: int                    # bytes of the request body the app consumed

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class CountingStream(io.RawIOBase):
    """A request body of ``size`` bytes made on demand, counting what the app reads."""

    def __init__(self, data: bytes, size: int | None = None) -> None:
        self._data, self._size = data, len(data) if size is None else size
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self._size - self.read_bytes)
        head = self._data[self.read_bytes:self.read_bytes + n]
        buffer[:len(head)] = head
        buffer[len(head):n] = b" " * (n - len(head))
        self.read_bytes += n
        return n


def wsgi_post(app: Any, path: str, body: bytes, headers: dict[str, str], *, chunked: bool = False,
              size: int | None = None, query: str = "", method: str = "POST") -> Reply:
    """``path``: the request target as sent (percent-encoded); the server decodes it for PATH_INFO.
    ``size``: stream that many bytes (``body`` then spaces) without building them."""
    stream = CountingStream(body, size)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http", "wsgi.input": io.BufferedReader(stream, buffer_size=1), "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
    }
    if chunked:
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        environ["wsgi.input_terminated"] = True         # the server de-chunks; the app reads to the end
    else:
        environ["CONTENT_LENGTH"] = str(len(body) if size is None else size)
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    status: list[str] = []
    out_headers: dict[str, str] = {}

    def start_response(s: str, h: list[tuple[str, str]], exc_info: Any = None) -> None:
        status.append(s)
        out_headers.update({k.lower(): v for k, v in h})

    chunks = app(environ, start_response)
    try:
        data = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close:
            close()
    return Reply(int(status[0].split()[0]), out_headers, data, stream.read_bytes)


def asgi_post(app: Any, path: str, body: bytes, headers: dict[str, str], *, chunk: int = 65536,
              size: int | None = None, query: str = "", method: str = "POST") -> Reply:
    """The body arrives in ``chunk``-byte messages (as a server passes a chunked upload on). ``path`` as
    sent (percent-encoded): decoded as uvicorn does for ``scope["path"]``."""
    total = len(body) if size is None else size

    def pieces() -> Iterator[bytes]:
        sent = 0
        while sent < total:
            n = min(chunk, total - sent)
            part = body[sent:sent + n]
            yield part + b" " * (n - len(part))
            sent += n

    parts = pieces()
    read = 0
    done = False
    sent_status: list[int] = []
    out_headers: dict[str, str] = {}
    out_body: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal read, done
        if done:
            await asyncio.sleep(3600)          # a client that keeps the connection open
        part = next(parts, None)
        if part is None:
            done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        read += len(part)
        more = read < total
        done = not more
        return {"type": "http.request", "body": part, "more_body": more}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent_status.append(message["status"])
            out_headers.update({k.decode().lower(): v.decode() for k, v in message.get("headers", [])})
        elif message["type"] == "http.response.body":
            out_body.append(message.get("body", b""))

    raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": unquote(path), "raw_path": path.encode("latin-1"), "query_string": query.encode("latin-1"),
             "root_path": "", "headers": raw_headers, "client": ("127.0.0.1", 1234), "server": ("localhost", 80)}
    asyncio.run(asyncio.wait_for(app(scope, receive, send), timeout=60))
    return Reply(sent_status[0], out_headers, b"".join(out_body), read)
