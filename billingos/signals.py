"""blinker signals. Each fires after the commit that made it true, never before.

Connect with ``@signals.customer_created.connect`` (or ``.connect(fn, sender=billing)``).
The sender is always the ``Billing`` instance; kwargs are listed per signal.
"""

from __future__ import annotations

from blinker import Namespace

__all__ = ["namespace", "customer_created", "customer_updated", "catalog_synced", "webhook_dead_lettered", "reconciliation_fixed"]

namespace = Namespace()

#: A customer was created locally and in Stripe.
#: sender: Billing; kwargs: ``customer`` (BillingCustomer row, detached), ``owner_id`` (str).
customer_created = namespace.signal("customer-created")

#: A customer's synced fields changed (from an API call or a webhook).
#: sender: Billing; kwargs: ``customer`` (BillingCustomer), ``changed`` (set of field names).
customer_updated = namespace.signal("customer-updated")

#: ``catalog.sync`` finished and committed.
#: sender: Billing; kwargs: ``report`` (CatalogSyncReport).
catalog_synced = namespace.signal("catalog-synced")

#: A webhook event failed every retry and was moved to the dead letter (replay it when fixed).
#: sender: Billing; kwargs: ``event`` (WebhookEventInfo: id, type, status, attempts, last_error).
webhook_dead_lettered = namespace.signal("webhook-dead-lettered")

#: ``billing.reconcile()`` fixed more rows than its threshold (default 10): something was missed.
#: sender: Billing; kwargs: ``report`` (ReconcileReport).
reconciliation_fixed = namespace.signal("reconciliation-fixed")
