"""What the admin pages share: rendering with the admin layout's data, notices, form values."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from ...actor import Actor
from ...errors import InvalidInputError
from ...money import CURRENCY_EXPONENTS
from ..results import Render

if TYPE_CHECKING:
    from ..core import PageContext

NOTICES = {
    "canceled": "The subscription was canceled.", "cancels": "The subscription will cancel at the period end.",
    "resumed": "The subscription continues.", "changed": "The plan was changed.",
    "scheduled": "The plan changes at the end of the period.", "coupon": "The coupon was applied.",
    "unscheduled": "The scheduled change was canceled: the plan stays as it is.",
    "reactivated": "The customer is subscribed again: this is the new subscription.",
    "granted": "The override was granted.", "revoked": "The override was revoked.",
    "refunded": "The refund was sent.", "credited": "The credit note was issued.",
    "replayed": "The events were queued again.", "jobs_replayed": "The jobs were queued again.",
    "reconciled": "Reconciliation finished: its report is at the top.",
    "key_revoked": "The API key was revoked: requests with it are refused from now on.",
    "insight_read": "Marked as read.", "insight_dismissed": "The insight was dismissed.",
    "insight_acted": "Your action was recorded on the insight.",
}


def page(ctx: PageContext, template: str, nav: str, title: str, http_status: int = 200, /, **data: Any) -> Render:
    """An admin page: the layout needs the admin's name, the mounted nav places and the notice. (Positional
    only, so a page's data may have a ``status`` of its own.)"""
    from . import ADMIN_NAV
    nav_items = [(key, label, route) for key, label, route in ADMIN_NAV if route in ctx.pages.routes]
    # the bell: insights nobody has read yet (one COUNT on an index)
    unread = ctx.billing.insights.unread_count() if "admin.insights" in ctx.pages.routes else None
    return Render(f"admin/{template}", {"title": title, "nav": nav, "admin": ctx.admin, "admin_nav": nav_items,
                                        "unread": unread,
                                        "notice": NOTICES.get(ctx.query.get("done", "")), **data}, http_status)


def actor(ctx: PageContext) -> Actor:
    """The admin, as the audit log records who did an operation (with the request id and client address)."""
    return ctx.actor("admin", ctx.admin.strip()[:255] or "admin")


def flag(value: str | None, param: str) -> bool | None:
    """A yes/no filter: "" or missing is None."""
    if value in (None, ""):
        return None
    if value in ("yes", "no"):
        return value == "yes"
    raise InvalidInputError(f"{param} must be yes or no.", param=param)


def optional(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def decimal_text(amount: int, currency: str) -> str:
    """1250 minor units of usd as "12.50": what an amount field takes back."""
    exponent = CURRENCY_EXPONENTS.get(currency.lower(), 2)
    return str(Decimal(amount).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent)))


def minor_units(value: str | None, currency: str, param: str = "amount") -> int | None:
    """"12.50" in ``currency`` as 1250 minor units; "" is None; anything else an InvalidInputError."""
    text = (value or "").strip()
    if not text:
        return None
    exponent = CURRENCY_EXPONENTS.get(currency.lower(), 2)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise InvalidInputError(f"{param} must be an amount like 12.50.", param=param) from None
    scaled = amount.scaleb(exponent)
    if not amount.is_finite() or amount <= 0 or scaled != scaled.to_integral_value() or len(text) > 16:
        raise InvalidInputError(f"{param} must be a positive amount with at most {exponent} decimals.",
                                param=param)
    return int(scaled)
