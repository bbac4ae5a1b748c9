"""billingos.emulator: an in-process, stateful Stripe API.

The real ``stripe.StripeClient`` talks to it through ``EmulatorHTTPClient``::

    from billingos.emulator import Emulator
    em = Emulator()
    stripe_client = em.client()          # a real stripe.StripeClient
    stripe_client.v1.customers.create(params={"email": "a@b.co"})

The public surface for test kits: ``Emulator(settings=EmulatorSettings(...), latency=...)``,
``em.advance_to(timestamp)``, ``em.webhooks`` (``connect``, ``deliver``, ``secret``,
``set_endpoint_secrets``), ``em.meter_events()``, ``em.hooks.event``, ``em.faults``, read-only inspection
through ``em.store.all(kind)`` / ``em.store.objects``, and ``rating`` (Stripe's pricing rules, written from
its documentation: an oracle for pricing code). Everything else is internal.
"""

from . import rating
from .app import API_VERSION, Emulator, Faults
from .delivery import Attempt, Deliveries, Delivery, WebhookDeliveryError
from .errors import StripeError
from .http_client import EmulatorHTTPClient
from .server import serve, serve_forever, serve_in_thread
from .settings import EmulatorSettings, Latency
from .signing import compute_signature, signature_header
from .state import MeterEventRecord

__all__ = ["API_VERSION", "Attempt", "Deliveries", "Delivery", "Emulator", "EmulatorHTTPClient", "EmulatorSettings",
           "Faults", "Latency", "MeterEventRecord", "StripeError", "WebhookDeliveryError", "compute_signature",
           "rating", "serve", "serve_forever", "serve_in_thread", "signature_header"]
