"""billingos_fastapi: mount billingos inside a FastAPI app.

    from billingos_fastapi import create_router, billing_dependency
    app.include_router(create_router(billing, customer_loader=current_org_id))
    get_billing = billing_dependency(billing)      # then Depends(get_billing) in your own routes

    @app.get("/export", dependencies=[Depends(requires_feature("export"))])   # 403 unless the plan has it

The router never closes ``billing``: you built it, so close it in your own lifespan::

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        billing.close()
"""

from ._guards import FeatureDenied, add_problem_handlers, requires_feature
from ._router import ProblemRoute, billing_dependency, create_router, problem_response

__all__ = ["FeatureDenied", "ProblemRoute", "add_problem_handlers", "billing_dependency", "create_router",
           "problem_response", "requires_feature"]
