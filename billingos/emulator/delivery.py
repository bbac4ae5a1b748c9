"""Signed webhook delivery from the emulator to endpoints, with Stripe's at-least-once semantics.

Each new event is queued once per enabled endpoint whose ``enabled_events`` match. A delivery goes
to a callable connected for the endpoint's URL (``em.webhooks.connect``), or over HTTP to a loopback
URL. A non-2xx answer (redirects included) or an exception is a failure, retried on Stripe's
backoff once the emulator clock has passed the next attempt, for up to 3 days.

``mode = "immediate"`` delivers as soon as the request that emitted the event has released the
emulator lock (so a receiver may call back into the emulator, from any thread); ``"manual"``
queues until ``deliver()``, which can shuffle, duplicate or drop deliveries to test receivers.
"""

from __future__ import annotations

import ipaddress
import json
import random
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .signing import signature_header

if TYPE_CHECKING:
    from .app import Emulator

__all__ = ["Attempt", "BatchReceiver", "Deliveries", "Delivery", "Receiver", "WebhookDeliveryError"]

CONTENT_TYPE = "application/json; charset=utf-8"
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
RETRY_WINDOW = 3 * 24 * 3600          # Stripe gives up after 3 days
RETRY_DELAYS = (60, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 12 * 3600)   # then every 12 h
MODES = ("immediate", "manual")

Receiver = Callable[[bytes, dict[str, str]], int]
#: Takes every due delivery to one URL at once: ``[(body, headers), ...] -> [status, ...]`` (one each, in order).
BatchReceiver = Callable[[list[tuple[bytes, dict[str, str]]]], list[int]]


class WebhookDeliveryError(Exception):
    """A delivery the emulator refuses to make (e.g. to a non-loopback URL)."""


@dataclass
class Delivery:
    event_id: str
    endpoint_id: str
    url: str
    attempts: int = 0
    first_attempt_at: int | None = None
    next_attempt_at: int = 0           # unix time; 0 = due now


@dataclass(frozen=True)
class Attempt:
    event_id: str
    endpoint_id: str
    attempt: int                       # 1 for the first try of this delivery
    status: int | None                 # HTTP status, None when dropped or raised
    error: str | None = None
    at: int = 0
    duplicate: bool = False
    gave_up: bool = False

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Deliveries:
    """``em.webhooks``: the delivery queue, its receivers, its log and its controls."""

    def __init__(self, em: Emulator) -> None:
        self.em = em
        self._mode = "immediate"
        self.receivers: dict[str, Receiver] = {}
        self.batch_receivers: dict[str, BatchReceiver] = {}
        self.queue: list[Delivery] = []
        self.log: list[Attempt] = []
        self.timeout = 10.0
        self._lock = threading.Lock()      # guards the queue only; never held while sending

    # --- controls -----------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ValueError(f"webhooks.mode must be one of {', '.join(MODES)}, not {value!r}.")
        self._mode = value

    def connect(self, url: str, fn: Receiver) -> None:
        """Deliver to ``fn(body, headers) -> status`` instead of over HTTP for endpoints at ``url``."""
        self.batch_receivers.pop(url, None)
        self.receivers[url] = fn

    def connect_batch(self, url: str, fn: BatchReceiver) -> None:
        """Deliver every due delivery for endpoints at ``url`` in one call, ``fn([(body, headers), ...])``,
        which answers one status per delivery, in order, as that many separate POSTs would have (for an
        in-process receiver that stores a batch at once). A raising ``fn`` fails every delivery of the call."""
        self.receivers.pop(url, None)
        self.batch_receivers[url] = fn

    def disconnect(self, url: str) -> None:
        self.receivers.pop(url, None)
        self.batch_receivers.pop(url, None)

    def pending(self) -> list[Delivery]:
        """Deliveries not yet made or waiting for a retry (copies)."""
        with self._lock:
            return [replace(d) for d in self.queue]

    def secret(self, endpoint_id: str) -> str:
        """The signing secret of an endpoint (Stripe only shows it in the create response)."""
        secrets = self.em.state.webhook_secrets.get(endpoint_id)
        if not secrets:
            raise KeyError(f"No webhook endpoint {endpoint_id!r} in this emulator.")
        return secrets[-1]

    def set_endpoint_secrets(self, endpoint_id: str, secrets: list[str]) -> None:
        """Sign deliveries to ``endpoint_id`` with ``secrets`` (one ``v1`` signature each, as during a
        secret roll; the last is what ``secret()`` shows). A test kit uses it to sign with the secret
        its receiver is configured with."""
        if isinstance(secrets, str) or not secrets or not all(isinstance(s, str) and s for s in secrets):
            raise ValueError("secrets must be a non-empty list of non-empty strings")
        with self.em.lock:
            self.em.state.webhook_secrets[endpoint_id] = list(secrets)

    def deliver(self, *, shuffle: random.Random | None = None, duplicate: float = 0.0,
                drop: bool = False) -> list[Attempt]:
        """Make every due delivery now: in random order with ``shuffle``, each sent twice with
        probability ``duplicate``, or all failed (``drop``) so they are retried later."""
        if not 0.0 <= duplicate <= 1.0:
            raise ValueError("duplicate is a probability between 0 and 1.")
        batch = [(d, False) for d in self._take_due()]
        rng = shuffle or random.Random(0)
        batch += [(d, True) for d, _ in list(batch) if duplicate and rng.random() < duplicate]
        if shuffle is not None:
            shuffle.shuffle(batch)
        together: dict[str, list[int]] = {}          # url -> positions in ``batch``, for its batch receiver
        for i, (d, _) in enumerate(batch):
            if not drop and d.url in self.batch_receivers:
                together.setdefault(d.url, []).append(i)
        attempts: dict[int, Attempt] = {}
        for url, positions in together.items():
            attempts.update(zip(positions, self._attempt_batch(url, [batch[i] for i in positions]), strict=True))
        return [attempts[i] if i in attempts else self._attempt(d, duplicate=dup, drop=drop)
                for i, (d, dup) in enumerate(batch)]

    # --- hooks --------------------------------------------------------------------------------
    def on_event(self, event: dict[str, Any]) -> None:
        """``em.hooks.event``: queue one delivery per matching enabled endpoint."""
        endpoints = [we for we in self.em.store.all("webhook_endpoint")
                     if we["status"] == "enabled" and _subscribed(we, event["type"])]
        if not endpoints:
            return
        event["pending_webhooks"] = len(endpoints)
        failed = self.em.state.undelivered_events
        if event["id"] not in failed:
            failed.append(event["id"])   # Stripe counts pending deliveries as not successful
        with self._lock:
            self.queue += [Delivery(event["id"], we["id"], we["url"]) for we in endpoints]
        if self.mode == "immediate" and not _held_by_me(self.em.lock):
            self.deliver()               # emitted outside a request: nothing will flush it later

    def flush(self) -> None:
        """``em.hooks.after_request``: in immediate mode, deliver what is due once the lock is free."""
        if self.mode == "immediate" and self.queue:
            self.deliver()

    def forget_endpoint(self, endpoint_id: str) -> None:
        """A deleted endpoint receives nothing more."""
        with self._lock:
            self.queue = [d for d in self.queue if d.endpoint_id != endpoint_id]

    # --- internals ----------------------------------------------------------------------------
    def _take_due(self) -> list[Delivery]:
        now = self.em.now()
        with self._lock:
            due = [d for d in self.queue if d.next_attempt_at <= now]
            self.queue = [d for d in self.queue if d.next_attempt_at > now]
        return due

    def _attempt(self, d: Delivery, *, duplicate: bool, drop: bool) -> Attempt:
        request = self._request(d)
        if isinstance(request, str):
            return self._record(Attempt(d.event_id, d.endpoint_id, d.attempts, None, request, self.em.now(),
                                        duplicate))
        now, url, body, headers = request
        status, error = (None, "dropped (simulated network loss)") if drop else self._send(url, body, headers)
        return self._settle(d, now, status, error, duplicate=duplicate)

    def _attempt_batch(self, url: str, items: list[tuple[Delivery, bool]]) -> list[Attempt]:
        """Every delivery of ``items`` to the batch receiver at ``url``, in one call."""
        out: dict[int, Attempt] = {}
        sent: list[tuple[int, Delivery, bool, int]] = []
        requests: list[tuple[bytes, dict[str, str]]] = []
        for i, (d, dup) in enumerate(items):
            request = self._request(d)
            if isinstance(request, str):
                out[i] = self._record(Attempt(d.event_id, d.endpoint_id, d.attempts, None, request,
                                              self.em.now(), dup))
                continue
            now, _, body, headers = request
            sent.append((i, d, dup, now))
            requests.append((body, headers))
        statuses: list[int | None]
        error: str | None = None
        try:
            answered = [int(status) for status in self.batch_receivers[url](requests)] if requests else []
            if len(answered) != len(requests):
                raise ValueError(f"the batch receiver answered {len(answered)} statuses for {len(requests)} "
                                 "deliveries")
            statuses = list(answered)
        except Exception as e:   # a receiver's crash fails the whole call, as a 500 to each would
            statuses, error = [None] * len(requests), f"{type(e).__name__}: {e}"
        for (i, d, dup, now), status in zip(sent, statuses, strict=True):
            out[i] = self._settle(d, now, status, error, duplicate=dup)
        return [out[i] for i in range(len(items))]

    def _request(self, d: Delivery) -> tuple[int, str, bytes, dict[str, str]] | str:
        """(now, url, body, headers) for a delivery, or why it is cancelled."""
        with self.em.lock:
            now = self.em.now()
            event = self.em.store.find(d.event_id)
            endpoint = self.em.store.find(d.endpoint_id)
            body = json.dumps(event, indent=2).encode() if event is not None else b""
            secrets = list(self.em.state.webhook_secrets.get(d.endpoint_id, []))
        if event is None or endpoint is None or endpoint["status"] != "enabled":
            return "endpoint deleted or disabled; delivery cancelled"
        headers = {"Content-Type": CONTENT_TYPE, "User-Agent": USER_AGENT,
                   "Stripe-Signature": signature_header(body, secrets, now)}
        return now, endpoint["url"], body, headers

    def _settle(self, d: Delivery, now: int, status: int | None, error: str | None, *,
                duplicate: bool) -> Attempt:
        if duplicate:   # an extra copy: logged, but the original decides the outcome
            extra = Attempt(d.event_id, d.endpoint_id, max(d.attempts, 1), status, error, now, True)
            return self._record(extra)
        d.attempts += 1
        d.first_attempt_at = d.first_attempt_at or now
        attempt = Attempt(d.event_id, d.endpoint_id, d.attempts, status, error, now)
        if attempt.ok:
            self._succeeded(d)
            return self._record(attempt)
        return self._record(self._failed(d, attempt, now))

    def _send(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
        fn = self.receivers.get(url)
        try:
            if fn is not None:
                return int(fn(body, dict(headers))), None
            return _post(url, body, headers, self.timeout), None
        except Exception as e:   # a receiver's crash is a failed delivery, as a 500 would be
            return None, f"{type(e).__name__}: {e}"

    def _succeeded(self, d: Delivery) -> None:
        with self.em.lock:
            event = self.em.store.find(d.event_id)
            if event is None:
                return
            event["pending_webhooks"] = max(0, event["pending_webhooks"] - 1)
            failed = self.em.state.undelivered_events
            if event["pending_webhooks"] == 0 and event["id"] in failed:
                failed.remove(event["id"])

    def _failed(self, d: Delivery, attempt: Attempt, now: int) -> Attempt:
        delay = RETRY_DELAYS[min(d.attempts - 1, len(RETRY_DELAYS) - 1)]
        assert d.first_attempt_at is not None
        if now + delay > d.first_attempt_at + RETRY_WINDOW:
            return replace(attempt, gave_up=True)    # stays in failed_event_ids for good
        d.next_attempt_at = now + delay
        with self._lock:
            self.queue.append(d)
        return attempt

    def _record(self, attempt: Attempt) -> Attempt:
        with self._lock:
            self.log.append(attempt)
        return attempt


def _subscribed(endpoint: dict[str, Any], event_type: str) -> bool:
    events = endpoint.get("enabled_events") or []
    return "*" in events or event_type in events


def _held_by_me(lock: Any) -> bool:
    """Whether this thread holds the emulator's RLock (then a request is running: defer)."""
    is_owned = getattr(lock, "_is_owned", None)
    return bool(is_owned()) if is_owned is not None else True


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Stripe does not follow redirects: a 3xx is a failed delivery."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def check_loopback(url: str) -> None:
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme not in ("http", "https") or not loopback:
        raise WebhookDeliveryError(
            f"Refusing to deliver to {url}: the emulator only sends webhooks over HTTP to loopback "
            "addresses (127.0.0.1, ::1, localhost). Use em.webhooks.connect(url, fn) for an in-process "
            "receiver.")


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    check_loopback(url)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with opener.open(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
