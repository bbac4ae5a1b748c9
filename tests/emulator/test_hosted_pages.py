"""The hosted-page entry point: routing, headers, hostile input, the WSGI app, the loopback server, base URLs."""

from __future__ import annotations

import io
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from billingos.emulator import Emulator
from billingos.emulator.server import EmulatorServer, serve_in_thread

from .billing_kit import price as make_price
from .hosted_kit import BASE, get, post


@pytest.fixture
def emulator(clock) -> Emulator:
    return Emulator(clock=clock, hosted_base_url=BASE)


def _checkout(client) -> Any:
    return client.v1.checkout.sessions.create(params={"mode": "subscription", "success_url": "https://shop.test/ok",
                                                      "line_items": [{"price": make_price(client).id}]})


def test_unknown_paths_methods_and_headers(client, emulator: Emulator) -> None:
    status, headers, body = emulator.hosted.handle("GET", "/nothing/here")
    assert status == 404 and b"Page not found" in body
    status, headers, _ = emulator.hosted.handle("DELETE", f"/checkout/{_checkout(client).id}")
    assert status == 405 and headers["allow"] == "GET, POST"
    status, headers, body = emulator.hosted.handle("GET", f"/checkout/{_checkout(client).id}")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert headers["cache-control"] == "no-store" and headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"
    html = body.decode()
    assert html.startswith("<!DOCTYPE html>") and '<html lang="en">' in html and "<h1>" in html
    assert 'name="viewport"' in html and "http" not in re.sub(r'(action|href)="[^"]*"', "", html).split("<main>")[0]
    for field in re.findall(r'<input[^>]+type="(?:email|text|radio)"[^>]*id="([^"]+)"', html):
        assert f'for="{field}"' in html, f"input {field} has no label"


@pytest.mark.parametrize("form", [
    "email=a%00b%40c.co&token=x",                  # NUL
    "email=%ED%A0%80&token=x",                     # an encoded lone surrogate (not valid UTF-8)
    b"email=\xff\xfe&token=x",                     # raw bytes that are not UTF-8
    "&".join(f"f{i}=1" for i in range(150)),       # too many fields
    {"email": ["a@b.co"], "token": 7},             # a parsed form with non-text values
    {"email": "\ud800@b.co", "token": "x"},       # a parsed form with a lone surrogate
])
def test_hostile_forms_are_a_400_and_change_nothing(client, emulator: Emulator, form: Any) -> None:
    cs = _checkout(client)
    status, _, body = emulator.hosted.handle("POST", f"/checkout/{cs.id}", "", form)
    assert status == 400 and b"Bad request" in body
    assert client.v1.checkout.sessions.retrieve(cs.id).status == "open" and client.v1.customers.list().data == []


def test_a_framework_parsed_form_works_like_a_body(client, emulator: Emulator) -> None:
    cs = _checkout(client)
    token = get(emulator, cs.url).token()
    status, headers, _ = emulator.hosted.handle("POST", f"/checkout/{cs.id}", "", {
        "token": token, "email": "form@shop.test", "card": "pm_card_visa"})
    assert status == 303 and headers["location"] == "https://shop.test/ok"


def test_wsgi_app_serves_the_same_pages(client, emulator: Emulator) -> None:
    cs = _checkout(client)
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": f"/checkout/{cs.id}", "QUERY_STRING": "",
               "wsgi.input": io.BytesIO(b"")}
    body = b"".join(emulator.hosted.wsgi_app(environ, start_response))
    assert seen["status"] == "200 OK" and int(seen["headers"]["content-length"]) == len(body)
    token = re.search(rb'name="token" value="([^"]+)"', body).group(1).decode()  # type: ignore[union-attr]
    form = urlencode({"token": token, "email": "w@shop.test", "card": "pm_card_visa"}).encode()
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": f"/checkout/{cs.id}", "QUERY_STRING": "",
               "CONTENT_LENGTH": str(len(form)), "wsgi.input": io.BytesIO(form)}
    emulator.hosted.wsgi_app(environ, start_response)
    assert seen["status"] == "303 See Other" and seen["headers"]["location"] == "https://shop.test/ok"
    big = {"REQUEST_METHOD": "POST", "PATH_INFO": "/x", "CONTENT_LENGTH": str(10**6),
           "wsgi.input": io.BytesIO(b"a" * 10**6)}
    emulator.hosted.wsgi_app(big, start_response)
    assert seen["status"].startswith("413")


def test_base_url_can_be_a_mount_path(clock) -> None:
    em = Emulator(clock=clock, hosted_base_url="/billing/stripe/")
    client = em.client()
    cs = _checkout(client)
    assert cs.url == f"/billing/stripe/checkout/{cs.id}"
    status, _, body = em.hosted.handle("GET", f"/checkout/{cs.id}")
    assert status == 200 and f'action="/billing/stripe/checkout/{cs.id}"'.encode() in body
    em.hosted.base_url = "https://app.example.com/billing/_stripe"
    later = _checkout(client)
    assert later.url == f"https://app.example.com/billing/_stripe/checkout/{later.id}"


@pytest.fixture
def server(clock) -> Iterator[EmulatorServer]:
    srv = serve_in_thread(Emulator(clock=clock), port=0)
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def test_the_loopback_server_serves_api_and_pages_on_one_port(server: EmulatorServer) -> None:
    import stripe

    port = server.server_address[1]
    em = server.emulator
    assert em.hosted.base_url == f"http://127.0.0.1:{port}"
    client = stripe.StripeClient("sk_test_http", base_addresses={"api": f"http://127.0.0.1:{port}"},
                                 max_network_retries=0)
    cs = _checkout(client)
    assert cs.url == f"http://127.0.0.1:{port}/checkout/{cs.id}"
    with urllib.request.urlopen(cs.url, timeout=5) as resp:
        page = resp.read().decode()
    assert resp.status == 200 and resp.headers["content-type"].startswith("text/html")
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    data = urlencode({"token": token, "email": "http@shop.test", "card": "pm_card_visa"}).encode()
    opener = urllib.request.build_opener(_NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as exc:
        opener.open(urllib.request.Request(cs.url, data=data, method="POST"), timeout=5)
    assert exc.value.code == 303 and exc.value.headers["location"] == "https://shop.test/ok"
    done = client.v1.checkout.sessions.retrieve(cs.id)
    assert done.status == "complete" and client.v1.subscriptions.retrieve(done.subscription).status == "active"
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/billing_portal/bps_nope", timeout=5)
    assert missing.value.code == 404


def test_sessions_survive_a_restart_and_old_forms_ask_to_reload(clock, tmp_path) -> None:
    path = tmp_path / "stripe.json"
    first = Emulator(clock=clock, state_path=path, hosted_base_url=BASE)
    cs = _checkout(first.client())
    stale = get(first, cs.url).token()
    second = Emulator(clock=clock, state_path=path, hosted_base_url=BASE)
    page = get(second, cs.url)
    assert page.status == 200 and "$20.00 per month" in page.text
    refused = post(second, cs.url, {"token": stale, "email": "r@shop.test", "card": "pm_card_visa"})
    assert refused.status == 403 and "Reload the page" in refused.text
    assert post(second, cs.url, {"token": page.token(), "email": "r@shop.test", "card": "pm_card_visa"}).status == 303
    third = Emulator(clock=clock, state_path=path, hosted_base_url=BASE)
    done = third.client().v1.checkout.sessions.retrieve(cs.id)
    assert done.status == "complete" and third.client().v1.subscriptions.retrieve(done.subscription).status == "active"
