"""Stand-ins for Stripe's hosted pages: Checkout, the Billing Portal and the Elements card form.

With the emulator there is no stripe.com, so these pages are served by the emulator itself, through one
framework-agnostic entry point that a host app mounts under a prefix (or the loopback server serves)::

    status, headers, body = em.hosted.handle("GET", "/checkout/cs_test_...", query="", form=None)

Objects' ``url`` fields point at ``em.hosted.base_url`` (see docs/emulator.md, "Hosted pages").
"""

from . import checkout, elements, portal_actions
from .core import Hosted, Page, PageResponse

#: Every page, for ``Hosted(em, routes=PAGES)`` (the pages import ``core``; ``core`` imports no page).
PAGES: list[tuple[str, str, Page]] = [*checkout.ROUTES, *portal_actions.ROUTES, *elements.ROUTES]

__all__ = ["PAGES", "Hosted", "PageResponse"]
