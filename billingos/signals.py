"""blinker signals. Each fires after the commit that made it true, never before.

Connect with ``@signals.customer_created.connect`` (or ``.connect(fn, sender=billing)``).
The sender is always the ``Billing`` instance; kwargs are listed per signal.
"""

from __future__ import annotations

from blinker import Namespace

__all__ = [
    "catalog_synced",
    "churn_risk_detected",
    "customer_created",
    "customer_erased",
    "customer_linked",
    "customer_updated",
    "dunning_exhausted",
    "invoice_paid",
    "namespace",
    "payment_failed",
    "payment_recovered",
    "payment_retry_scheduled",
    "payment_succeeded",
    "reconciliation_fixed",
    "subscription_activated",
    "subscription_cancel_requested",
    "subscription_canceled",
    "subscription_created",
    "subscription_past_due",
    "subscription_paused",
    "subscription_renewed",
    "subscription_resumed",
    "subscription_updated",
    "trial_will_end",
    "upgrade_opportunity_detected",
    "usage_threshold_reached",
    "webhook_dead_lettered",
]

namespace = Namespace()

#: A customer was created locally and in Stripe.
#: sender: Billing; kwargs: ``customer`` (Customer snapshot), ``owner_id`` (str).
customer_created = namespace.signal("customer-created")

#: ``customers.link()`` put an existing Stripe customer under an owner (a migration's adoption).
#: sender: Billing; kwargs: ``customer`` (Customer snapshot), ``owner_id`` (str), ``previous_owner_id`` (str or None).
customer_linked = namespace.signal("customer-linked")

#: ``customers.erase()`` pseudonymised an owner's personal data in billingos's tables (financial records kept).
#: Erase the host's own copy of that person's data here. Fires once per erasure that changed something.
#: sender: Billing; kwargs: ``owner_id`` (str), ``customer_id`` (str, the Stripe customer),
#: ``deleted_in_stripe`` (bool).
customer_erased = namespace.signal("customer-erased")

#: A customer's synced fields changed (from an API call or a webhook).
#: sender: Billing; kwargs: ``customer`` (Customer snapshot), ``changed`` (set of field names).
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

# --- subscriptions: sender Billing; ``subscription`` is a Subscription snapshot after the commit ----

#: A subscription appeared locally for the first time (any status).
#: kwargs: ``subscription``.
subscription_created = namespace.signal("subscription-created")

#: The status became ``active`` from anything else (first payment, trial converted, recovered from past_due).
#: kwargs: ``subscription``, ``previous_status`` (str or None).
subscription_activated = namespace.signal("subscription-activated")

#: Any synced field changed (status, items, quantities, cancel_at_period_end, periods...).
#: kwargs: ``subscription``, ``changed`` (set of field names).
subscription_updated = namespace.signal("subscription-updated")

#: The subscription ended (status ``canceled``). A scheduled cancellation fires this when it takes effect.
#: kwargs: ``subscription``.
subscription_canceled = namespace.signal("subscription-canceled")

#: A customer asked to cancel (``subscriptions.cancel``), sent after the commit with the survey's answer.
#: kwargs: ``subscription``, ``feedback`` (Stripe's reason, e.g. ``"too_expensive"``, or None),
#: ``comment`` (str or None), ``at_period_end`` (bool).
subscription_cancel_requested = namespace.signal("subscription-cancel-requested")

#: A new billing period started for an active subscription.
#: kwargs: ``subscription``, ``period_start``, ``period_end`` (datetimes).
subscription_renewed = namespace.signal("subscription-renewed")

#: Stripe announced the trial ends in 3 days (``customer.subscription.trial_will_end``).
#: kwargs: ``subscription``, ``trial_end`` (datetime).
trial_will_end = namespace.signal("trial-will-end")

#: A payment failed and the subscription is now ``past_due`` (dunning starts).
#: kwargs: ``subscription``.
subscription_past_due = namespace.signal("subscription-past-due")

#: Collection was paused, or the status became ``paused`` (trial ended without a payment method).
#: kwargs: ``subscription``.
subscription_paused = namespace.signal("subscription-paused")

#: A paused subscription resumed.
#: kwargs: ``subscription``.
subscription_resumed = namespace.signal("subscription-resumed")

# --- invoices and payments: sender Billing; ``invoice`` is an Invoice snapshot -------------------------

#: An invoice became ``paid``.
#: kwargs: ``invoice``.
invoice_paid = namespace.signal("invoice-paid")

#: A payment attempt on an invoice failed (``invoice.payment_failed``).
#: kwargs: ``invoice``, ``attempt_count`` (int), ``next_payment_attempt`` (datetime or None).
payment_failed = namespace.signal("payment-failed")

#: A payment attempt on an invoice succeeded (``invoice.payment_succeeded``).
#: kwargs: ``invoice``.
payment_succeeded = namespace.signal("payment-succeeded")

# --- dunning: sender Billing; ``case`` is a DunningCase snapshot (invoice, subscription, owner, amount) ----

#: Dunning scheduled a retry of a failed invoice payment. Fires once per retry.
#: kwargs: ``case`` (DunningCase), ``retry`` (int, 1-based), ``retry_at`` (datetime).
payment_retry_scheduled = namespace.signal("payment-retry-scheduled")

#: An invoice in dunning was paid (by a retry, the customer or out of band); remaining retries are dropped.
#: Fires once per case. kwargs: ``case``.
payment_recovered = namespace.signal("payment-recovered")

#: Dunning ended without payment: the last retry failed (or no retry was possible and the window closed).
#: Fires once per case. kwargs: ``case``, ``outcome`` (``"canceled"`` or ``"unpaid"``).
dunning_exhausted = namespace.signal("dunning-exhausted")

# --- entitlements: sender Billing; each fires once per actual change, after the commit that made it -----

#: An owner gained a feature they did not have (a subscription started or was upgraded, an override).
#: kwargs: ``owner_id`` (str), ``feature`` (str, the feature's lookup_key), ``source``
#: (``"subscription:sub_..."`` or ``"override"``).
entitlement_granted = namespace.signal("entitlement-granted")

#: An owner lost a feature: its last live grant went.
#: kwargs: ``owner_id`` (str), ``feature`` (str), ``reason`` (``subscription_ended``, ``unpaid``, ``paused``,
#: ``plan_changed``, ``grace_expired``, ``override_expired`` or ``override_revoked``).
entitlement_revoked = namespace.signal("entitlement-revoked")

# --- usage: sender Billing ----------------------------------------------------------------------------

#: An owner's usage of a meter reached a threshold (default 80, 90 and 100 percent, or the owner's own from
#: ``billing.usage.set_alert_thresholds``) of their plan's limit.
#: Fires once per owner, meter, billing period and threshold, after the commit that recorded the usage.
#: kwargs: ``owner_id`` (str), ``meter`` (str, the meter's event_name), ``threshold`` (int percent),
#: ``limit`` (int), ``used`` (int, the period's total then), ``period_start``, ``period_end`` (datetimes).
usage_threshold_reached = namespace.signal("usage-threshold-reached")

#: A customer's calibrated churn risk crossed the threshold (once per episode: it fires again only after the
#: risk went back below the threshold). sender: Billing; kwargs: ``owner_id`` (str), ``score`` (float, 0-1),
#: ``threshold`` (float), ``reasons`` (list of str, in words), ``insight_id`` (int).
churn_risk_detected = namespace.signal("churn-risk-detected")

#: A customer would be better served by a higher plan (usage at 90% of a limit, seats maxed out, or a
#: projected overage that makes the higher plan cheaper); once per billing period. sender: Billing; kwargs:
#: ``owner_id`` (str), ``suggestion`` (billingos.insights.UpgradeSuggestion), ``insight_id`` (int).
upgrade_opportunity_detected = namespace.signal("upgrade-opportunity-detected")
