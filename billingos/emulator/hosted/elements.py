"""The Elements stand-in: where Stripe.js would collect a card and confirm an intent.

``GET /setup_intents/{id}/confirm?client_secret=...&return_url=...`` (and the same for
``/payment_intents/{id}/confirm``) shows the test cards. The customer picks one; the page confirms the
intent through the API. On success it redirects to ``return_url`` with the query Stripe.js adds
(``setup_intent``, ``setup_intent_client_secret``, ``redirect_status``); a decline shows Stripe's message
and the form again.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from ..errors import StripeError
from . import html
from .core import PageRequest, PageResponse, not_found
from .html import e

if TYPE_CHECKING:
    from .core import Hosted

_KINDS = {"setup_intents": "setup_intent", "payment_intents": "payment_intent"}
_OPEN = ("requires_payment_method", "requires_confirmation", "requires_action")


def _intent(hosted: Hosted, req: PageRequest) -> dict[str, Any] | None:
    """The intent, only when the page was given its client secret (a capability, as in Stripe.js)."""
    kind = _KINDS[req.args["kind"]]
    secret = req.form.get("client_secret") if req.method == "POST" else req.query.get("client_secret")
    obj = hosted.read(lambda: hosted.em.store.find(req.args["id"]))
    if obj is None or obj.get("object") != kind or not isinstance(secret, str):
        return None
    if not hmac.compare_digest(str(obj.get("client_secret") or ""), secret):
        return None
    return dict(obj)


def with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _redirect_params(obj: dict[str, Any], status: str) -> dict[str, str]:
    kind = obj["object"]
    return {kind: obj["id"], f"{kind}_client_secret": obj["client_secret"], "redirect_status": status}


def _summary(obj: dict[str, Any]) -> str:
    if obj["object"] == "payment_intent":
        return (f"<p>Pay <strong>{e(html.money(obj.get('amount'), obj.get('currency')))}</strong>"
                f"{' for ' + e(obj['description']) if obj.get('description') else ''}.</p>")
    usage = "future payments while you are away" if obj.get("usage") == "off_session" else "future payments"
    return f"<p>Save a card for {e(usage)}.</p>"


def _form(hosted: Hosted, req: PageRequest, obj: dict[str, Any], return_url: str, error: str | None,
          selected: str | None, status: int = 200) -> PageResponse:
    title = "Pay" if obj["object"] == "payment_intent" else "Add a card"
    inner = (html.hidden("client_secret", obj["client_secret"]) + html.hidden("return_url", return_url)
             + html.card_picker(selected))
    action = hosted.url(f"/{req.args['kind']}/{obj['id']}/confirm")
    body = (f"<h1>{e(title)}</h1>{html.alert(error)}<section>{_summary(obj)}"
            f"{html.post_form(action, hosted.token(obj['id']), inner, 'Pay' if title == 'Pay' else 'Save card')}"
            "</section>")
    return PageResponse(status, html.layout(title, body))


def _return_url(hosted: Hosted, req: PageRequest) -> tuple[str | None, PageResponse | None]:
    source = req.form if req.method == "POST" else req.query
    url = source.get("return_url", "")
    if url and not hosted.return_url_ok(url):
        return None, PageResponse(400, html.message_page(
            "Return address not allowed",
            "return_url must be a path on this site, a loopback address, or an origin in "
            "em.hosted.allowed_return_origins."))
    return url, None


def _done(obj: dict[str, Any], return_url: str) -> PageResponse:
    status = "succeeded" if obj["status"] in ("succeeded", "requires_capture") else "processing"
    if return_url:
        return PageResponse(303, location=with_query(return_url, _redirect_params(obj, status)))
    noun = "Payment" if obj["object"] == "payment_intent" else "Card setup"
    return PageResponse(200, html.message_page(f"{noun} complete", "You can close this page."))


def show(hosted: Hosted, req: PageRequest) -> PageResponse:
    obj = _intent(hosted, req)
    if obj is None:
        return not_found()
    return_url, bad = _return_url(hosted, req)
    if bad is not None or return_url is None:
        return bad or not_found()
    if obj["status"] == "canceled":
        return PageResponse(410, html.message_page("No longer available", "This request was canceled."))
    if obj["status"] not in _OPEN:
        return _done(obj, return_url)
    last = obj.get("last_setup_error") or obj.get("last_payment_error") or {}
    return _form(hosted, req, obj, return_url, last.get("message"), None)


def submit(hosted: Hosted, req: PageRequest) -> PageResponse:
    obj = _intent(hosted, req)
    if obj is None:
        return not_found()
    return_url, bad = _return_url(hosted, req)
    if bad is not None or return_url is None:
        return bad or not_found()
    if not hosted.token_ok(obj["id"], req.form.get("token")):
        return PageResponse(403, html.message_page("This form has expired",
                                                   "Reload the page and try again."))
    card = req.form.get("card", "")
    if card not in html.CARD_TOKENS:
        return _form(hosted, req, obj, return_url, "Choose one of the test cards.", None, 400)
    with hosted.submitting():
        current = hosted.read(lambda: dict(hosted.em.store.objects[obj["id"]]))
        if current["status"] not in _OPEN:
            return _done(current, return_url)
        try:
            done = hosted.api("POST", f"/v1/{req.args['kind']}/{obj['id']}/confirm", {"payment_method": card})
        except StripeError as err:
            if err.status >= 500:
                raise
            return _form(hosted, req, current, return_url, err.message, card, 402 if err.status == 402 else 400)
    return _done(done, return_url)


ROUTES = [
    ("GET", r"/(?P<kind>setup_intents|payment_intents)/(?P<id>(?:seti|pi)_[A-Za-z0-9]+)/confirm", show),
    ("POST", r"/(?P<kind>setup_intents|payment_intents)/(?P<id>(?:seti|pi)_[A-Za-z0-9]+)/confirm", submit),
]
