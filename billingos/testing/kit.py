"""``billing.testing``: the kit host apps and billingos's own tests use against the emulator.

    billing.testing.connect(app)       # the emulator's webhooks now go through app's POST /billing/webhooks
    billing.testing.connect()          # ... or straight to billing.webhooks.receive_many (no web app)
    billing.testing.advance(days=31)   # move time: renewals, trial ends, retries; deliver and process
    billing.testing.drain()            # deliver every due webhook and run every queued job now
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .. import validation
from ..clock import FrozenClock
from ..errors import BillingError, ConfigurationError, InvalidInputError
from ..notifications import OutboxMailer
from .routes import DEFAULT_PATH, TEST_HOST, path_of, receiver_for, route_path

if TYPE_CHECKING:
    from ..billing import Billing

__all__ = ["TestKit"]

WEBHOOK_URL = "http://127.0.0.1/billingos/webhooks"   # an in-process receiver; nothing listens there
ENDPOINT_TAG = "billingos_test_kit"                   # metadata key marking the kit's endpoint
MAX_ADVANCE = timedelta(days=3660)                    # advance() moves time at most this far at once
#: Periodic jobs advance() does not run: reconciliation heals webhooks the kit never misses (a full pass
#: costs Stripe list calls). Call billing.reconcile() to test it.
PERIODIC_SKIPPED = frozenset({"reconcile"})
_UNITS = ("weeks", "days", "hours", "minutes", "seconds")


class TestKit:
    """``billing.testing``: drive the emulator from tests and demos (``connect``, ``advance``, ``drain``)."""

    def __init__(self, billing: Billing) -> None:
        if billing.emulator is None:
            raise ConfigurationError("billing.testing needs the Stripe emulator (stripe_emulator=True).")
        self._billing = billing
        self.emulator = billing.emulator
        self.endpoint_id: str | None = None
        self.url: str | None = None

    def connect(self, via: Any = None, *, url: str | None = None, mode: str = "immediate") -> str:
        """Point the emulator's webhooks at your app, signed with ``BillingConfig.webhook_secrets[0]``, as a
        Stripe Dashboard endpoint would be. Returns the endpoint id (one per emulator: calling again moves it).

        - ``connect(app)``: each delivery is a real ``POST`` through ``app``'s own webhook route (its
          middleware, CSRF exemption, signature check, task queue). ``app`` is a Flask or FastAPI app, or
          its test client; the route is found by name, or is the path of ``url``.
        - ``connect(url="http://127.0.0.1:5000/billing/webhooks")``: over real HTTP to a running server
          (loopback addresses only).
        - ``connect()``: straight to ``billing.webhooks.receive_many`` (each batch of due deliveries at
          once), when there is no web app at all.

        ``mode="manual"`` queues deliveries until ``emulator.webhooks.deliver()`` or ``drain()``."""
        if url is not None:
            validation.url(url)
        validation.choice(mode, "mode", ("immediate", "manual"))
        bind = receiver_for(via) if via is not None else None
        billing = self._billing
        if not billing.config.webhook_secrets:
            raise ConfigurationError("billing.testing.connect() signs with BillingConfig.webhook_secrets[0]; "
                                     "configure one (e.g. 'whsec_test_...').")
        receiver: Any = None            # None: the emulator POSTs over real HTTP
        if bind is not None:
            url = url or TEST_HOST + (route_path(via) or DEFAULT_PATH)
            receiver = bind(path_of(url))
        elif url is not None:
            _require_loopback(url)
        else:
            url = WEBHOOK_URL
        endpoint_id = self._endpoint(url)
        self.emulator.webhooks.set_endpoint_secrets(endpoint_id, [billing.config.webhook_secrets[0]])
        if self.url is not None:
            self.emulator.webhooks.disconnect(self.url)
        if receiver is not None:
            self.emulator.webhooks.connect(url, receiver)
        elif url == WEBHOOK_URL:       # no web app: each batch of due deliveries is verified and stored at once
            self.emulator.webhooks.connect_batch(url, self._receive_many)
        self.emulator.webhooks.mode = mode
        self.endpoint_id, self.url = endpoint_id, url
        return endpoint_id

    def _endpoint(self, url: str) -> str:
        """The kit's endpoint (tagged in its metadata, so a saved emulator state keeps one), at ``url``."""
        client = self.emulator.client()   # as the Dashboard would: straight to "Stripe"
        for endpoint in client.v1.webhook_endpoints.list(params={"limit": 100}).data:
            if (endpoint.to_dict().get("metadata") or {}).get(ENDPOINT_TAG) == "true":
                if endpoint.url != url or endpoint.status != "enabled":
                    client.v1.webhook_endpoints.update(endpoint.id, params={"url": url, "disabled": False,
                                                                            "enabled_events": ["*"]})
                return str(endpoint.id)
        created = client.v1.webhook_endpoints.create(params={
            "url": url, "enabled_events": ["*"], "metadata": {ENDPOINT_TAG: "true"},
            "description": "billing.testing.connect()"})
        return str(created.id)

    def _receive_many(self, deliveries: list[tuple[bytes, dict[str, str]]]) -> list[int]:
        answers = self._billing.webhooks.receive_many(deliveries)
        return [a.status if isinstance(a, BillingError) else 200 for a in answers]

    @property
    def outbox(self) -> OutboxMailer:
        """The emails billingos sent (``outbox.messages``, ``outbox.sent("payment_failed")``). The first use
        replaces the configured mailer with an ``OutboxMailer``, unless it already is one."""
        notifications = self._billing.notifications
        if not isinstance(notifications.mailer, OutboxMailer):
            notifications.mailer = OutboxMailer()
        return notifications.mailer

    def advance(self, delta: timedelta | None = None, **kw: float) -> Any:
        """Move the shared FrozenClock hour by hour; at each step the emulator runs what fell due (renewals,
        trial ends, payment retries). billingos's periodic jobs run before (pushing tracked usage, as a
        huey consumer would have) and after; then drain. ``delta`` and the keywords (``days=31``,
        ``hours=2``...) add up to at most ten years."""
        if delta is not None:
            validation.timedelta_(delta, "delta", minimum=timedelta(0), maximum=MAX_ADVANCE)
        for name, amount in kw.items():
            if name not in _UNITS:
                raise InvalidInputError(f"advance() takes delta= or {', '.join(_UNITS)}=, not "
                                        f"{validation.echo(name)}.", param=str(name)[:40])
            validation.seconds(amount, name, minimum=0, maximum=MAX_ADVANCE / timedelta(**{name: 1}))
        step_by = (delta or timedelta()) + timedelta(**kw)
        if step_by > MAX_ADVANCE:
            raise InvalidInputError("advance() moves time by at most ten years at once.", param="delta")
        clock = self._billing.clock
        if not isinstance(clock, FrozenClock):
            raise ConfigurationError("billing.testing.advance() needs a FrozenClock shared by Billing and the "
                                     "emulator (Billing(clock=FrozenClock(...), stripe_emulator=True)).")
        target = clock.now() + step_by
        step = timedelta(hours=1)
        self._run_periodic()          # what a huey consumer would have done by now (e.g. push tracked usage)
        while clock.now() < target:   # hour by hour, so retries and renewals land in order
            clock.set(min(clock.now() + step, target))
            self.emulator.advance_to(clock.now())
        self._run_periodic()
        self.drain()
        return clock.now()

    def _run_periodic(self) -> None:
        """billingos's periodic jobs (usage push, expiries, retries...), once, as the host's huey would run
        them; not reconciliation (see ``PERIODIC_SKIPPED``)."""
        for name, (_, fn) in self._billing.tasks.periodic.items():
            if name not in PERIODIC_SKIPPED:
                fn()

    def drain(self, *, max_rounds: int = 100) -> int:
        """Deliver due webhooks, run queued jobs and due retries until nothing is left. Returns the work done."""
        validation.integer(max_rounds, "max_rounds", minimum=1, maximum=1_000_000)
        done = 0
        for _ in range(max_rounds):
            n = len(self.emulator.webhooks.deliver()) + self._billing.tasks.run_queued()
            n += self._billing.jobs.retry_due()
            done += n
            if n == 0:
                return done
        raise RuntimeError("billing.testing.drain() did not settle: something keeps enqueuing work.")


def _require_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise InvalidInputError("url must be on this machine (127.0.0.1, ::1 or localhost): the emulator never "
                                f"sends webhooks elsewhere; got {validation.echo(url)}. To reach an app in this "
                                "process, pass it (or its test client) as via=.", param="url")
