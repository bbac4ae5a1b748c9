"""billingos.testing: test billing in your own app against the built-in Stripe emulator.

- ``billing.testing`` (a :class:`TestKit`): ``connect(app)`` delivers the emulator's signed webhooks
  through your app's own route, ``advance(days=31)`` moves time and runs what fell due, ``drain()``.
- The pytest plugin (``billingos.testing.plugin``, loaded automatically once billingos is installed):
  fixtures ``billing``, ``billing_clock``, ``emulator``, ``mail_outbox``, ``billing_factory``,
  ``advance``, ``deliver_webhooks``. See docs/testing.md.
"""

from .kit import MAX_ADVANCE, WEBHOOK_URL, TestKit

__all__ = ["MAX_ADVANCE", "WEBHOOK_URL", "TestKit"]
