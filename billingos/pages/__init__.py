"""billingos.pages: page logic once, for both adapters (see docs/pages.md).

A page is a function of a ``PageContext`` returning ``Render`` / ``Redirect`` / ``File`` or raising a typed
error; a ``Route`` names it; ``Pages`` dispatches an ``Incoming`` request to an ``Outgoing`` answer with
CSRF, login, error pages and security headers done once. ``billingos_flask`` and ``billingos_fastapi`` only
translate. The customer portal's routes are ``portal_routes()``.
"""

from .assets import STATIC_DIR, TEMPLATES_DIR, environment, static_file
from .core import MAX_FORM, SECURITY_HEADERS, Incoming, Outgoing, PageContext, Pages, Route, parse_form
from .formatting import Formatter
from .mount import PORTAL_MODES, mount_pages
from .results import File, LoginRequired, Redirect, Render, Result
from .safety import CSRF_COOKIE, CSRF_FIELD, Csrf, safe_return_url

__all__ = ["CSRF_COOKIE", "CSRF_FIELD", "MAX_FORM", "PORTAL_MODES", "SECURITY_HEADERS", "STATIC_DIR", "TEMPLATES_DIR",
           "Csrf", "File", "Formatter", "Incoming", "LoginRequired", "Outgoing", "PageContext", "Pages", "Redirect",
           "Render", "Result", "Route", "environment", "mount_pages", "parse_form", "safe_return_url", "static_file"]
