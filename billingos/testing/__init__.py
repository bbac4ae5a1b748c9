"""billingos.testing: test billing in your own app against the built-in Stripe emulator.

- ``billing.testing`` (a :class:`TestKit`): ``connect(app)`` delivers the emulator's signed webhooks
  through your app's own route, ``advance(days=31)`` moves time and runs what fell due, ``drain()``.
- :class:`Factory`: customers, and subscriptions in any state (``trialing``, ``active``, ``past_due``,
  ``incomplete``, ``canceled``, ``paused``), with usage.
- The pytest plugin (``billingos.testing.plugin``, loaded by pytest once billingos is installed):
  fixtures ``billing``, ``billing_clock``, ``emulator``, ``mail_outbox``, ``billing_factory``,
  ``advance``, ``deliver_webhooks``, ``billing_options``, ``billing_catalog``. See docs/testing.md.
"""

from .factories import CARDS, STATES, Factory
from .kit import MAX_ADVANCE, WEBHOOK_URL, TestKit

__all__ = ["CARDS", "MAX_ADVANCE", "STATES", "WEBHOOK_URL", "Factory", "TestKit"]
