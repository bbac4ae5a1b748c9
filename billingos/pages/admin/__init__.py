"""The admin dashboard at ``{prefix}/admin/``: page functions and their route table.

Every route is ``admin=True``: the dispatcher refuses it (401/403 or the host's login redirect) unless the
host's ``admin_loader`` returned someone, before any form is read. Writes go through the library's own
services, each POST with the signed CSRF token every page form carries.
"""

from __future__ import annotations

from ..core import Route
from . import access, analytics, customers, insights, invoices, operations, subscriptions

__all__ = ["ADMIN_NAV", "admin_routes"]

#: (key, label, route): the admin navigation. A place whose route is not mounted is not shown: the
#: analytics and insights pages plug in by adding ``admin.analytics`` / ``admin.insights`` routes.
ADMIN_NAV = (
    ("customers", "Customers", "admin.customers"),
    ("subscriptions", "Subscriptions", "admin.subscriptions"),
    ("webhooks", "Webhooks", "admin.webhooks"),
    ("jobs", "Jobs", "admin.jobs"),
    ("reconcile", "Reconciliation", "admin.reconcile"),
    ("analytics", "Analytics", "admin.analytics"),
    ("insights", "Insights", "admin.insights"),
    ("api_keys", "API keys", "admin.api_keys"),
    ("audit", "Audit log", "admin.audit"),
)


def admin_routes() -> list[Route]:
    get, post = ("GET",), ("POST",)

    def r(name: str, path: str, methods: tuple[str, ...], page: object) -> Route:
        return Route(f"admin.{name}", f"/admin{path}", methods, page, admin=True)  # type: ignore[arg-type]

    return [
        r("home", "/", get, customers.home),
        r("customers", "/customers", get, customers.customer_list),
        r("customers_csv", "/customers.csv", get, customers.export),
        r("customer", "/customers/{customer_id}", get, customers.detail),
        r("grant", "/customers/{customer_id}/overrides", post, subscriptions.grant),
        r("revoke", "/customers/{customer_id}/overrides/revoke", post, subscriptions.revoke),
        r("subscriptions", "/subscriptions", get, subscriptions.subscription_list),
        r("subscription", "/subscriptions/{subscription_id}", get, subscriptions.detail),
        r("cancel", "/subscriptions/{subscription_id}/cancel", post, subscriptions.cancel),
        r("resume", "/subscriptions/{subscription_id}/resume", post, subscriptions.resume),
        r("preview", "/subscriptions/{subscription_id}/preview", get, subscriptions.preview),
        r("change", "/subscriptions/{subscription_id}/change", post, subscriptions.change),
        r("coupon", "/subscriptions/{subscription_id}/coupon", post, subscriptions.coupon),
        r("cancel_scheduled_change", "/subscriptions/{subscription_id}/scheduled-change/cancel", post,
          subscriptions.cancel_scheduled_change),
        r("reactivate", "/subscriptions/{subscription_id}/reactivate", post, subscriptions.reactivate),
        r("invoice", "/invoices/{invoice_id}", get, invoices.detail),
        r("refund_confirm", "/invoices/{invoice_id}/refund", get, invoices.refund_confirm),
        r("refund", "/invoices/{invoice_id}/refund", post, invoices.refund),
        r("credit_confirm", "/invoices/{invoice_id}/credit-note", get, invoices.credit_confirm),
        r("credit", "/invoices/{invoice_id}/credit-note", post, invoices.credit),
        r("webhooks", "/events", get, operations.webhooks),
        r("webhook", "/events/{event_id}", get, operations.webhook),
        r("webhooks_replay", "/events/replay", post, operations.replay_webhooks),
        r("jobs", "/jobs", get, operations.jobs),
        r("jobs_replay", "/jobs/replay", post, operations.replay_jobs),
        r("reconcile", "/reconcile", get, operations.reconcile),
        r("reconcile_run", "/reconcile/run", post, operations.run_reconcile),
        r("api_keys", "/api-keys", get, access.api_keys),
        r("api_key_create", "/api-keys", post, access.create_key),
        r("api_key_revoke", "/api-keys/{key_id}/revoke", post, access.revoke_key),
        r("audit", "/audit", get, access.audit),
        r("audit_csv", "/audit.csv", get, access.audit_csv),
        r("insights", "/insights", get, insights.inbox),
        r("insights_csv", "/insights.csv", get, insights.export),
        r("insights_model", "/insights/model", get, insights.model),
        r("insight_customer", "/insights/{insight_id}/customer", get, insights.customer),
        r("insight_read", "/insights/{insight_id}/read", post, insights.mark_read),
        r("insight_dismiss", "/insights/{insight_id}/dismiss", post, insights.dismiss),
        r("insight_act", "/insights/{insight_id}/act", post, insights.act),
        r("analytics", "/analytics", get, analytics.overview),
        r("analytics_csv", "/analytics.csv", get, analytics.csv),
    ]
