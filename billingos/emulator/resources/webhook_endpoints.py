"""Webhook endpoints: create, retrieve, update, delete, list. Delivery lives in ``..delivery``.

The signing secret is shown only in the create response, as Stripe does; the emulator keeps it
in ``em.state.webhook_secrets`` (read it with ``em.webhooks.secret(id)``, roll it with
``em.webhooks.set_endpoint_secrets(id, [...])``).
"""

from __future__ import annotations

import secrets
import string
import typing
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import StripeError, invalid
from ..params import Params
from ..routing import Request
from ..store import new_id

if TYPE_CHECKING:
    from ..app import Emulator

MAX_ENDPOINTS = 16     # Stripe's per-mode limit


def _known_event_types() -> frozenset[str]:
    """Stripe's event types, read from the SDK's own annotation; empty if its shape changes."""
    try:    # a private SDK module, imported here so that its absence only loosens the check
        from stripe.params._webhook_endpoint_create_params import WebhookEndpointCreateParams
        literal = typing.get_args(WebhookEndpointCreateParams.__annotations__["enabled_events"])[0]
        return frozenset(typing.get_args(literal))
    except Exception:
        return frozenset()


EVENT_TYPES = _known_event_types()


def register(em: Emulator) -> None:
    r = em.router
    r.add("POST", "/v1/webhook_endpoints", create)
    r.add("GET", "/v1/webhook_endpoints", list_)
    r.add("GET", "/v1/webhook_endpoints/{id}", retrieve)
    r.add("POST", "/v1/webhook_endpoints/{id}", update)
    r.add("DELETE", "/v1/webhook_endpoints/{id}", delete)


def _url(p: Params, required: bool) -> str | None:
    url = p.str("url", required=required, max_length=2048)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid(f"Invalid URL: {url}. It must be an absolute http(s) URL.", "url", code="url_invalid")
    return str(url)


def _enabled_events(p: Params, required: bool) -> list[str] | None:
    events = p.list("enabled_events", required=required)
    if events is None:
        return None
    if not events:
        raise StripeError("Missing required param: enabled_events.", param="enabled_events",
                          code="parameter_missing")
    for i, name in enumerate(events):
        known = name in EVENT_TYPES if EVENT_TYPES else isinstance(name, str) and name != ""
        if not isinstance(name, str) or not known:
            raise invalid(f"Invalid enabled_events[{i}]: '{name}' is not a known event type. Use '*' for "
                          "all events.", f"enabled_events[{i}]")
    return [str(e) for e in dict.fromkeys(events)]


def create(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    url = _url(p, True)
    events = _enabled_events(p, True)
    description = p.str("description", nullable=True)
    api_version = p.str("api_version", max_length=64)
    p.bool("connect")
    metadata = p.metadata({})
    p.done()
    if len(em.store.all("webhook_endpoint")) >= MAX_ENDPOINTS:
        raise invalid(f"You have reached the maximum of {MAX_ENDPOINTS} test webhook endpoints.",
                      code="webhook_endpoint_limit_reached")
    endpoint = {
        "id": new_id("we"), "object": "webhook_endpoint", "api_version": api_version, "application": None,
        "created": em.now(), "description": description, "enabled_events": events, "livemode": False,
        "metadata": metadata or {}, "status": "enabled", "url": url,
    }
    secret = "whsec_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    em.store.insert(endpoint)
    em.webhooks.set_endpoint_secrets(endpoint["id"], [secret])
    return {**endpoint, "secret": secret}


def retrieve(em: Emulator, req: Request) -> dict[str, Any]:
    req.params.done()
    return em.store.get("webhook_endpoint", req.args["id"], label="webhook endpoint")


def update(em: Emulator, req: Request) -> dict[str, Any]:
    endpoint = em.store.get("webhook_endpoint", req.args["id"], label="webhook endpoint")
    p = req.params
    changes: dict[str, Any] = {}
    url = _url(p, False)
    if url is not None:
        changes["url"] = url
    events = _enabled_events(p, False)
    if events is not None:
        changes["enabled_events"] = events
    if p.has("description"):
        changes["description"] = p.str("description", nullable=True)
    disabled = p.bool("disabled")
    if disabled is not None:
        changes["status"] = "disabled" if disabled else "enabled"
    metadata = p.metadata(endpoint["metadata"])
    if metadata is not None:
        changes["metadata"] = metadata
    p.done()
    em.update(endpoint, changes)
    return endpoint


def delete(em: Emulator, req: Request) -> dict[str, Any]:
    endpoint = em.store.get("webhook_endpoint", req.args["id"], label="webhook endpoint")
    req.params.done()
    em.store.delete(endpoint["id"])
    em.webhooks.forget_endpoint(endpoint["id"])
    return {"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True}


def list_(em: Emulator, req: Request) -> dict[str, Any]:
    return em.store.page(req.params, em.store.all("webhook_endpoint"), "/v1/webhook_endpoints")
