"""``billing.usage``: metered usage — events, per-period totals, the Stripe push and thresholds."""
