"""The bad-input sweep over HTTP: every route both adapters mount (read from the apps' own route tables,
so a new route is swept too), with junk in the path, the query, the body and the headers, and a
customer_loader that returns junk. No answer is a 5xx, the webhook route never redirects, and nothing is
written. Requests go below the test clients (raw WSGI environ / ASGI scope) so they arrive as sent."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from flask import Flask

from billingos_fastapi import create_router
from billingos_flask import BillingOS
from tests.adapters.raw_http import Reply, asgi_post, wsgi_post

from .kinds import LONG
from .world import World

PREFIX = "/billing"

#: Path parameter values, as sent on the wire (percent-encoded where a client would encode them).
PATH_JUNK = ["", "%00", "%ED%A0%80", "%FF%FE", "a%0A", "..", "%2E%2E%2F%2E%2E", "%2F", "x" * 5000, "in_1A2b3C",
             "evt_%00", "sub_1A2b3C%20"]
QUERY_JUNK = ["limit=-1&after=%00&status=nope", "x=%ED%A0%80&y=%FF", "limit=NaN&limit=1e400", "owner_id=" + "x" * 20000,
              "a=1&" * 2000, "%00=%00", "next=//evil.example&return_url=javascript:alert(1)"]
BODY_JUNK: list[tuple[str, bytes, str]] = [
    ("empty", b"", "application/json"), ("truncated JSON", b'{"a": ', "application/json"),
    ("NUL", b'{"a": "\x00"}', "application/json"), ("surrogate escape", b'{"a": "\\ud800"}', "application/json"),
    ("deep", b"[" * 50_000 + b"]" * 50_000, "application/json"), ("600 KB", b"x" * 600_000, "application/json"),
    ("form with NUL", b"csrf_token=%00&price=%ED%A0%80&quantity=-1", "application/x-www-form-urlencoded"),
    ("broken multipart", b"--x\r\nContent-Disposition: form-data\r\n\r\n\x00", "multipart/form-data; boundary=x"),
    ("not UTF-8", b"\xff\xfe\x00\x01", "text/plain")]
HEADER_JUNK: list[dict[str, str]] = [{"Content-Length": "abc"}, {"Content-Type": "application/json; charset=ebcdic"},
                                     {"Cookie": "session=" + "x" * 8000}, {"Stripe-Signature": "t=1,v1=\xe9"},
                                     {"Content-Type": "\x7f"}]
#: What a host's customer_loader might hand back by mistake.
OWNER_JUNK: list[Any] = ["", " ", "org\n", "\ud800", "a\x00", 123, LONG, b"org_1", ["org_1"], True]


@dataclass(frozen=True)
class Route:
    path: str                       # with {name} placeholders
    params: tuple[str, ...]
    methods: tuple[str, ...]


class Apps:
    """Both adapters mounted on one world, with a customer_loader the test controls."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.owner: Any = world.owner
        flask_app = Flask(__name__)
        flask_app.config["SECRET_KEY"] = "sweep"
        ext = BillingOS(flask_app, billing=world.billing)
        ext.customer_loader(lambda: self.owner)
        self.flask = flask_app
        self.router = create_router(world.billing, customer_loader=lambda: self.owner)
        api = FastAPI()
        api.include_router(self.router)
        self.fastapi = api

    def routes(self, kind: str) -> list[Route]:
        out = []
        if kind == "flask":
            for rule in self.flask.url_map.iter_rules():
                if rule.endpoint.startswith("billingos."):
                    path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
                    out.append(Route(path, tuple(sorted(rule.arguments)), _methods(rule.methods)))
        else:
            for route in self.router.routes:     # the router we mount (the app wraps included routers)
                if isinstance(route, APIRoute) and route.path.startswith(PREFIX):
                    path = re.sub(r"\{([^}:]+)(?::[^}]+)?\}", r"{\1}", route.path)
                    out.append(Route(path, tuple(sorted(route.param_convertors)), _methods(route.methods)))
        return out

    def send(self, kind: str, method: str, path: str, *, query: str = "", body: bytes = b"",
             headers: dict[str, str] | None = None) -> Reply:
        if kind == "flask":
            return wsgi_post(self.flask.wsgi_app, path, body, headers or {}, query=query, method=method)
        hdrs = {"Content-Length": str(len(body)), **(headers or {})}
        return asgi_post(self.fastapi, path, body, hdrs, query=query, method=method)


def _methods(methods: Any) -> tuple[str, ...]:
    return tuple(sorted(set(methods or ()) - {"HEAD", "OPTIONS"}))


def _fill(route: Route, value: str | None = None) -> str:
    path = route.path
    for name in route.params:
        path = path.replace("{" + name + "}", value if value is not None else "x")
    return path


def requests(route: Route) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(label, send() arguments)`` for one route."""
    for method in route.methods:
        for junk in PATH_JUNK if route.params else []:
            yield f"{method} path param {junk[:20]!r}", {"method": method, "path": _fill(route, junk)}
        for query in QUERY_JUNK:
            yield f"{method} query {query[:30]!r}", {"method": method, "path": _fill(route), "query": query}
        for header in HEADER_JUNK:
            yield f"{method} header {str(header)[:30]}", {"method": method, "path": _fill(route), "headers": header}
        if method != "GET":
            for label, body, ctype in BODY_JUNK:
                yield f"{method} body {label}", {"method": method, "path": _fill(route), "body": body,
                                                 "headers": {"Content-Type": ctype}}
        for spelling in ("/", "//"):
            yield f"{method} path + {spelling!r}", {"method": method, "path": _fill(route) + spelling}
        yield f"{method} doubled slash", {"method": method, "path": _fill(route).replace(PREFIX + "/", PREFIX + "//")}


def sweep(apps: Apps, kind: str, check: Callable[[str, Reply, bool], str | None]) -> tuple[list[str], int]:
    world = apps.world
    failures: list[str] = []
    runs = 0
    before = (world.database(), world.stripe())
    routes = apps.routes(kind)
    assert routes, f"{kind}: no billingos routes found"
    for route in routes:
        webhook = route.path.rstrip("/").endswith("/webhooks")
        for label, request in requests(route):
            runs += 1
            try:
                reply = apps.send(kind, **request)
            except Exception as e:  # the app raised through the server: a 500 in production
                failures.append(f"{route.path} {label}: RAW {type(e).__name__}: {str(e)[:150]}")
                continue
            problem = check(label, reply, webhook)
            if problem:
                failures.append(f"{route.path} {label}: {problem}")
            after = (world.database(), world.stripe())
            if after != before:
                failures.append(f"{route.path} {label}: wrote something")
                world.dirty = True
                before = after
        if route.params or "GET" not in route.methods:
            continue
        for owner in OWNER_JUNK:           # a host loader handing back junk: never a 500
            runs += 1
            apps.owner = owner
            try:
                reply = apps.send(kind, "GET", _fill(route))
            except Exception as e:
                failures.append(f"{route.path} owner {str(owner)[:20]!r}: RAW {type(e).__name__}: {str(e)[:150]}")
                continue
            finally:
                apps.owner = world.owner
            problem = check(f"owner {owner!r}"[:40], reply, webhook)
            if problem:
                failures.append(f"{route.path} owner {str(owner)[:20]!r}: {problem}")
    return failures, runs


def _check(label: str, reply: Reply, webhook: bool) -> str | None:
    if reply.status >= 500:
        return f"{reply.status}: {reply.body[:200]!r}"
    if webhook and 300 <= reply.status < 400:
        return f"redirected ({reply.status} -> {reply.headers.get('location')})"
    if reply.status >= 400 and "json" in reply.headers.get("content-type", ""):
        detail = reply.body.decode("utf-8", "replace")
        if LONG[:200] in detail or len(detail) > 2000:
            return f"a {len(detail)}-character error echoing the input"
    return None


@pytest.mark.parametrize("kind", ["flask", "fastapi"])
def test_every_route_survives_junk(world: World, kind: str) -> None:
    failures, runs = sweep(Apps(world), kind, _check)
    assert runs > 40
    assert not failures, f"{kind}: {len(failures)} of {runs} requests misbehaved:\n  " + "\n  ".join(failures[:80])


def test_the_sweep_sees_every_route_of_both_adapters(world: World) -> None:
    apps = Apps(world)
    flask_paths = {r.path.rstrip("/") for r in apps.routes("flask")}
    fastapi_paths = {re.sub(r"/\{tail\}$", "", r.path).rstrip("/") for r in apps.routes("fastapi")}
    assert {f"{PREFIX}/webhooks", f"{PREFIX}/customer"} <= flask_paths
    assert flask_paths == fastapi_paths, "the adapters mount different routes"
