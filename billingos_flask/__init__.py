"""billingos_flask: mount billingos inside a Flask app (the flask-sqlalchemy way).

    from billingos_flask import BillingOS, current_billing
    ext = BillingOS(app)                 # or BillingOS(billing=billing) then ext.init_app(app)

    @ext.customer_loader
    def owner_id() -> str | None:
        return session.get("owner_id")

    @app.get("/export")
    @requires_feature("export")          # 403 problem document unless the owner's plan includes it
    def export(): ...

Flask has no app-shutdown hook: when the process stops, call ``ext.billing_for(app).close()``.
"""

from ._extension import CONFIG_DEFAULTS, BillingOS, current_billing, current_owner_id
from ._guards import requires_feature
from ._problem import problem_response

__all__ = ["CONFIG_DEFAULTS", "BillingOS", "current_billing", "current_owner_id", "problem_response",
           "requires_feature"]
