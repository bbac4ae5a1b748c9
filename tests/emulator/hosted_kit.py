"""Driving the emulator's stand-in pages (``em.hosted``) the way a browser does: GET, read the form, POST."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from billingos.emulator import Emulator

BASE = "http://shop.test/billing/stripe"


@dataclass
class Page:
    status: int
    headers: dict[str, str]
    body: str

    @property
    def location(self) -> str | None:
        return self.headers.get("location")

    def token(self) -> str:
        m = re.search(r'name="token" value="([^"]+)"', self.body)
        assert m is not None, f"no form token on this page ({self.status}): {self.text[:300]}"
        return m.group(1)

    @property
    def alert(self) -> str | None:
        m = re.search(r'role="alert"[^>]*><p>(.*?)</p>', self.body, re.S)
        return html.unescape(m.group(1)) if m else None

    @property
    def text(self) -> str:
        body = re.sub(r"<(script|style)\b.*?</\1>", " ", self.body, flags=re.S)
        return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body))).strip()

    def hidden(self, name: str) -> str:
        m = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', self.body)
        assert m is not None, f"no field {name}"
        return html.unescape(m.group(1))


def path_of(url: str) -> tuple[str, str]:
    """(path below the mount point, query) of an absolute URL under BASE."""
    assert url.startswith(BASE), url
    parts = urlsplit(url)
    return parts.path.removeprefix(urlsplit(BASE).path), parts.query


def get(em: Emulator, url: str, query: str | dict[str, str] = "") -> Page:
    path, q = path_of(url) if url.startswith("http") else (url, "")
    query = urlencode(query) if isinstance(query, dict) else query
    status, headers, body = em.hosted.handle("GET", path, query or q)
    return Page(status, headers, body.decode("utf-8"))


def post(em: Emulator, url: str, form: dict[str, Any]) -> Page:
    path, q = path_of(url) if url.startswith("http") else (url, "")
    status, headers, body = em.hosted.handle("POST", path, q, urlencode(form))
    return Page(status, headers, body.decode("utf-8"))


def event_types(em: Emulator, since: int = 0) -> list[str]:
    return [e["type"] for e in em.store.all("event")[since:]]
