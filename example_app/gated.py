"""Features the plans gate, and an API that meters every call.

``/exports/invoices.csv`` needs the ``export`` feature (Pro and Team). ``/api/v1/projects`` spends one
unit of the plan's ``api_calls`` quota per call (``billing.consume``: atomic, never overspent; a 429
once the quota is gone) and meters the call for Stripe (``billing.usage.track``) in the app's own
transaction, so a call whose work rolls back is neither counted nor billed."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.wrappers import Response as WerkzeugResponse

from billingos_flask import current_billing as billing
from billingos_flask import requires_feature

from .plans import login_required

bp = Blueprint("gated", __name__)
FEATURES = ("export", "sso", "priority_support")


@bp.get("/exports/invoices.csv")
@login_required
@requires_feature("export")
def export_invoices() -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["number", "status", "currency", "total", "created"])
    for inv in billing.invoices.list(g.user.owner_id, limit=100):
        writer.writerow([inv.number, inv.status, inv.currency, inv.total, inv.created and inv.created.isoformat()])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=invoices.csv"})


@bp.get("/api/v1/projects")
def api_projects() -> WerkzeugResponse | tuple[Any, int]:
    if g.get("user") is None:
        return _problem(401, "Log in first.")
    owner = g.user.owner_id
    call_id = request.headers.get("Idempotency-Key") or f"req_{uuid.uuid4().hex}"
    quota = billing.consume(owner, "api_calls", 1, idempotency_key=call_id)
    if not quota.allowed:
        response = _problem(429, f"Your plan's API quota is used up ({quota.used}/{quota.limit}).")
        if quota.resets_at is not None:
            seconds = max(1, int((quota.resets_at - billing.now()).total_seconds()))
            response[0].headers["Retry-After"] = str(seconds)
        return response
    with current_app.extensions["example_app.db"]() as session, session.begin():
        billing.usage.track(owner, "api_calls", 1, idempotency_key=call_id, session=session)
        # ... the endpoint's real work would write its own rows here, in the same transaction ...
    return jsonify(projects=[{"id": "prj_demo", "name": "Demo project"}],
                   quota={"limit": quota.limit, "used": quota.used, "remaining": quota.remaining})


def features_for(owner_id: str) -> dict[str, Any]:
    """What the account page shows: each boolean feature, and the API quota."""
    return {"flags": {key: billing.has_feature(owner_id, key) for key in FEATURES},
            "api_calls": billing.check(owner_id, "api_calls", 0),
            "api_usage": billing.usage.total(owner_id, "api_calls")}


def _problem(status: int, detail: str) -> tuple[WerkzeugResponse, int]:
    response = jsonify(type=f"https://billingos.dev/errors/http-{status}", title="Request refused",
                       status=status, detail=detail)
    response.mimetype = "application/problem+json"
    return response, status
