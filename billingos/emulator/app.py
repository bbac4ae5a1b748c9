"""The in-process Stripe API: request handling, idempotency, expansion, events, latency and fault injection.

The module graph is layered, each layer importing only those below it:

    errors forms params signing routing store settings state       (foundations)
    billing_common rating catalog cards metering discounts          (money, calendar, catalog)
    invoice_build invoice_totals payments dunning → invoicing         (invoices)
    proration → subscription_engine → subscription_changes → subscription_update → subscription_create
    invoice_preview  schedule_* → billing_cycle                       (subscriptions over time)
    delivery  resources/*  app                                        (webhooks, routes, this)

A lower layer calls back up only through ``em.hooks`` (typed lists the Emulator wires here).
"""

from __future__ import annotations

import base64
import copy
import json
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import stripe

from ..clock import Clock, SystemClock
from . import billing_cycle, schedule_engine, subscription_engine
from .delivery import Deliveries
from .errors import StripeError, invalid
from .forms import FormError, decode
from .hosted import PAGES, Hosted
from .http_client import EmulatorHTTPClient
from .params import Params
from .resources import features, register_all
from .routing import Request, Router
from .settings import API_VERSION, EmulatorSettings, Latency, check_latency, latency_for
from .shapes import shape
from .state import EmulatorState, Hooks, MeterEventRecord
from .store import Store, clone, new_id

IDEMPOTENCY_TTL = timedelta(hours=24)
STATE_FORMAT = "billingos-emulator-state/2"


@dataclass
class Faults:
    """Switches that make the emulator misbehave the way real networks and Stripe do."""

    down: bool = False                 # every request fails with a connection error
    fail_next: int = 0                 # the next N requests answer 500 api_error
    fail_paths: set[str] = field(default_factory=set)   # path prefixes that answer 500 while set
    # exact paths answered 404 "Unrecognized request URL", as by Stripe-compatible servers that lack them
    # (localstripe and stripe-mock have no /v1/customers/search)
    missing_paths: set[str] = field(default_factory=set)

    def reset(self) -> None:
        self.down, self.fail_next = False, 0
        self.fail_paths.clear()
        self.missing_paths.clear()


class Emulator:
    """A stateful Stripe API in memory. Use ``client()`` for a real ``stripe.StripeClient`` bound to it.

    - ``settings``: the simulated account's billing settings (``EmulatorSettings``; replace it whole).
    - ``latency``: seconds each call waits, outside the emulator's lock (see ``settings.Latency``).
    - ``state_path``: persist every change to this JSON file and load it at start.
    """

    def __init__(self, *, clock: Clock | None = None, state_path: str | os.PathLike[str] | None = None,
                 account_id: str = "acct_billingosemulator", hosted_base_url: str | None = None,
                 settings: EmulatorSettings | None = None, latency: Latency = None) -> None:
        if settings is not None and not isinstance(settings, EmulatorSettings):
            raise TypeError(f"settings must be an EmulatorSettings, not {type(settings).__name__}")
        self.clock = clock or SystemClock()
        self.account_id = account_id
        self.settings = settings or EmulatorSettings()
        self.latency = latency
        self.store = Store()
        self.state = EmulatorState()
        self.hooks = Hooks()
        self.router = Router()
        self.faults = Faults()
        self.lock = threading.RLock()
        self.idempotency: dict[tuple[str, str], dict[str, Any]] = {}
        self.request_log: list[tuple[str, str, int]] = []
        self.state_path = Path(state_path) if state_path else None
        self.hosted = Hosted(self, base_url=hosted_base_url, routes=PAGES)   # stand-in Checkout, portal, Elements
        self.webhooks = Deliveries(self)
        self.due_index: billing_cycle.DueIndex | None = billing_cycle.DueIndex()
        register_all(self)
        self.hooks.event += [self.webhooks.on_event, self._index_event, lambda event: features.on_event(self, event),
                             lambda event: schedule_engine.on_event(self, event)]
        self.hooks.after_request.append(self.webhooks.flush)
        self.hooks.clock_advance.append(billing_cycle.clock_hook)
        self.hooks.invoice_paid.append(subscription_engine.on_invoice_paid)
        self.hooks.invoice_payment_failed.append(subscription_engine.on_invoice_failed)
        if self.state_path and self.state_path.exists():
            self._load()

    @property
    def latency(self) -> Latency:
        return self._latency

    @latency.setter
    def latency(self, value: Latency) -> None:
        self._latency = check_latency(value)

    # --- the public API for test kits -----------------------------------------------------------
    def advance_to(self, timestamp: int | datetime) -> int:
        """Run everything that fell due up to ``timestamp`` for customers without a test clock
        (renewals, trial ends, retries, schedule phases), stepping a FrozenClock forward to each and then
        to ``timestamp``, then deliver the webhooks it queued. Returns how many transitions ran."""
        ts = int(timestamp.timestamp()) if isinstance(timestamp, datetime) else int(timestamp)
        with self.lock:
            done = billing_cycle.advance_to(self, ts)
            billing_cycle.step_frozen_clock(self, ts)
            if self.state_path and done:
                self._save()
        self._after_request()
        return done

    def meter_events(self, event_name: str | None = None) -> list[MeterEventRecord]:
        """Every billing meter event received (Stripe has no list endpoint), oldest first (copies)."""
        with self.lock:
            return [copy.deepcopy(e) for e in self.state.meter_events
                    if event_name is None or e.event_name == event_name]

    def _index_event(self, event: dict[str, Any]) -> None:
        if self.due_index is not None:
            self.due_index.on_event(event)

    # --- time ---------------------------------------------------------------------------------
    def now(self, obj: dict[str, Any] | None = None) -> int:
        """Unix time for ``obj``: its test clock's frozen time if it has one, else the emulator clock."""
        clock_id = None
        if obj is not None:
            clock_id = obj.get("test_clock")
            if clock_id is None and isinstance(obj.get("customer"), str):
                cust = self.store.find(obj["customer"])
                clock_id = cust.get("test_clock") if cust else None
        if isinstance(clock_id, str):
            tc = self.store.find(clock_id)
            if tc is not None:
                return int(tc["frozen_time"])
        return int(self.clock.now().timestamp())

    # --- events -------------------------------------------------------------------------------
    def emit(self, type: str, obj: dict[str, Any], previous: dict[str, Any] | None = None,
             request: Request | None = None) -> dict[str, Any]:
        event: dict[str, Any] = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self.now(obj),
            "data": {"object": shape(clone(obj))},
            "livemode": False,
            "pending_webhooks": 0,
            "request": {"id": request.request_id if request else None,
                        "idempotency_key": request.idempotency_key if request else None},
            "type": type,
        }
        if previous is not None:
            event["data"]["previous_attributes"] = clone(previous)
        self.store.insert(event)
        for hook in list(self.hooks.event):
            hook(event)
        return event

    def update(self, obj: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
        """Apply ``changes`` and return Stripe-style ``previous_attributes`` (only what changed)."""
        previous: dict[str, Any] = {}
        for key, value in changes.items():
            old = obj.get(key)
            if old != value:
                previous[key] = _diff_old(old, value)
                obj[key] = value
        return previous

    # --- request handling ---------------------------------------------------------------------
    def handle(self, method: str, path: str, query: str, body: str,
               headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
        """One HTTP exchange. Returns (status, headers, JSON body)."""
        method = method.upper()
        delay = latency_for(self._latency, method, unquote(path))
        if delay:
            time.sleep(delay)           # outside the lock: concurrent callers wait side by side, as on a network
        hdrs = {k.lower(): v for k, v in headers.items()}
        request_id = new_id("req", 14)
        out_headers = {"request-id": request_id, "content-type": "application/json",
                       "stripe-version": hdrs.get("stripe-version", API_VERSION)}
        with self.lock:
            try:
                status, payload, replayed = self._handle(method, unquote(path), query, body, hdrs, request_id)
            except StripeError as e:
                status, payload, replayed = e.status, e.body(), False
                if e.status >= 500:
                    out_headers["stripe-should-retry"] = "true"
            if replayed:
                out_headers["idempotent-replayed"] = "true"
            self.request_log.append((method, path, status))
            if self.state_path and method != "GET" and status < 500:
                self._save()
        self._after_request()
        return status, out_headers, json.dumps(payload)

    def _after_request(self) -> None:
        for hook in list(self.hooks.after_request):
            hook()

    def _handle(self, method: str, path: str, query: str, body: str, hdrs: dict[str, str],
                request_id: str) -> tuple[int, dict[str, Any], bool]:
        self._authenticate(hdrs)
        if self.faults.fail_next > 0 or any(path.startswith(p) for p in self.faults.fail_paths):
            self.faults.fail_next = max(0, self.faults.fail_next - 1)
            raise StripeError("An unknown error occurred (injected by the emulator).", status=500, type="api_error")
        try:
            raw = decode(body if method in ("POST", "DELETE") and body else query or "")
            if method in ("POST", "DELETE") and query:
                raw = {**decode(query), **raw}
        except FormError as e:
            raise invalid(str(e)) from None
        key = hdrs.get("idempotency-key") if method == "POST" else None
        fingerprint = json.dumps([method, path, raw], sort_keys=True)
        if key:
            cached = self._idempotent_replay(hdrs, key, fingerprint)
            if cached is not None:
                return cached["status"], cached["payload"], True
        matched = None if path in self.faults.missing_paths else self.router.match(method, path)
        if matched is None:
            if self.router.path_known(path) and path not in self.faults.missing_paths:
                raise StripeError(f"Unrecognized request method {method} for {path}.", status=405)
            raise StripeError(f"Unrecognized request URL ({method}: {path}). The billingos emulator does not "
                              "implement this endpoint yet.", status=404)
        handler, args = matched
        params = Params(raw)
        expand = params.list("expand") or []
        req = Request(method, path, params, args, hdrs, request_id, key, expand)
        try:
            result = handler(self, req)
            params.done()
            status, payload = 200, shape(self.expand(clone(result), expand))
        except StripeError as e:
            if e.code == "resource_missing" and e.param in args:
                e.status = 404          # an unknown id in the URL is a 404; in a parameter, a 400
            if e.status >= 500 or not key:
                raise
            status, payload = e.status, e.body()
        if key:
            self.idempotency[(self._api_key(hdrs), key)] = {
                "fingerprint": fingerprint, "status": status, "payload": payload, "at": self.now()}
        return status, payload, False

    def _idempotent_replay(self, hdrs: dict[str, str], key: str, fingerprint: str) -> dict[str, Any] | None:
        if len(key) > 255:
            raise invalid("Idempotency keys can be at most 255 characters long.", code="idempotency_key_too_long")
        entry = self.idempotency.get((self._api_key(hdrs), key))
        if entry is None or self.now() - entry["at"] > IDEMPOTENCY_TTL.total_seconds():
            return None
        if entry["fingerprint"] != fingerprint:
            raise StripeError(
                "Keys for idempotent requests can only be used with the same parameters they were first "
                f"used with. Try using a key other than '{key}' if you meant to execute a different request.",
                type="idempotency_error")
        return entry

    def _api_key(self, hdrs: dict[str, str]) -> str:
        """Bearer, or HTTP Basic with the key as the user name (``curl -u sk_test_...:``), as Stripe accepts."""
        auth = hdrs.get("authorization", "").strip()
        if auth.startswith("Basic "):
            try:
                return base64.b64decode(auth[6:]).decode().split(":", 1)[0]
            except (ValueError, UnicodeDecodeError):
                return ""
        return auth.removeprefix("Bearer ").strip()

    def _authenticate(self, hdrs: dict[str, str]) -> None:
        key = self._api_key(hdrs)
        if not key:
            raise StripeError("You did not provide an API key. Provide it in the Authorization header "
                              "(Authorization: Bearer YOUR_SECRET_KEY).", status=401)
        if not key.startswith(("sk_test_", "rk_test_")):
            raise StripeError(f"Invalid API Key provided: {key[:8]}****. The billingos emulator only takes "
                              "test-mode keys (sk_test_...).", status=401)

    # --- expansion -----------------------------------------------------------------------------
    def expand(self, obj: Any, paths: list[str]) -> Any:
        for path in paths:
            if not isinstance(path, str):
                raise invalid("expand must be a list of strings.", "expand")
            parts = path.split(".")
            if obj.get("object") in ("list", "search_result") and parts[0] == "data":
                for item in obj["data"]:
                    self._expand_one(item, parts[1:], path)
            else:
                self._expand_one(obj, parts, path)
        return obj

    def _expand_one(self, node: Any, parts: list[str], full: str) -> None:
        if not parts or not isinstance(node, dict):
            return
        head, rest = parts[0], parts[1:]
        if head not in node:
            raise invalid(f"This property cannot be expanded ({full}).", "expand")
        value = node[head]
        if isinstance(value, str):
            target = self.store.find(value)
            if target is None:
                raise invalid(f"This property cannot be expanded ({full}).", "expand")
            node[head] = value = clone(target)
        if isinstance(value, list):
            for i, v in enumerate(value):
                holder = {"x": v}
                self._expand_one(holder, ["x", *rest], full)
                value[i] = holder["x"]      # a list of ids (e.g. ``discounts``) expands in place
        elif isinstance(value, dict) and value.get("object") == "list":
            if rest and rest[0] != "data":       # a list's items are reached through ``data``, as Stripe spells it
                raise invalid(f"This property cannot be expanded ({full}).", "expand")
            for item in value.get("data", []):
                self._expand_one(item, rest[1:], full)
        else:
            self._expand_one(value, rest, full)

    # --- clients --------------------------------------------------------------------------------
    def http_client(self) -> EmulatorHTTPClient:
        return EmulatorHTTPClient(self)

    def client(self, api_key: str = "sk_test_billingos_emulator") -> stripe.StripeClient:
        """A real ``stripe.StripeClient`` whose HTTP goes to this emulator."""
        return stripe.StripeClient(api_key, http_client=self.http_client(), max_network_retries=0)

    # --- persistence ----------------------------------------------------------------------------
    def _save(self) -> None:
        assert self.state_path is not None
        state = {"format": STATE_FORMAT, "objects": self.store.objects, "by_kind": self.store.by_kind,
                 "deleted": sorted(self.store.deleted),
                 "idempotency": [[k[0], k[1], v] for k, v in self.idempotency.items()],
                 "state": self.state.to_json()}
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.state_path)

    def _load(self) -> None:
        assert self.state_path is not None
        try:
            state = json.loads(self.state_path.read_text())
            if isinstance(state, dict) and "objects" in state and "format" not in state:
                raise ValueError(f"{self.state_path} is not an emulator state file this version reads: an older "
                                 f"billingos emulator wrote it (state format 1; this one reads {STATE_FORMAT}). "
                                 "Move it away to start from an empty emulator.")
            if state["format"] != STATE_FORMAT:
                raise KeyError(f"format {state['format']!r}")
            objects, by_kind = state["objects"], state["by_kind"]
            deleted = set(state["deleted"])
            idempotency = {(a, b): v for a, b, v in state["idempotency"]}
            server_state = EmulatorState.from_json(state["state"])
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as e:   # not a file this emulator wrote
            raise ValueError(f"{self.state_path} is not an emulator state file ({type(e).__name__}: {e}); "
                             "move it away to start from an empty emulator.") from None
        self.store.objects, self.store.by_kind, self.store.deleted = objects, by_kind, deleted
        self.idempotency = idempotency
        self.state = server_state


def _diff_old(old: Any, new: Any) -> Any:
    """previous_attributes keeps only the changed sub-keys of a hash, as Stripe does."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = {k: _diff_old(old.get(k), new.get(k)) for k in set(old) | set(new) if old.get(k) != new.get(k)}
        return out
    return clone(old)
