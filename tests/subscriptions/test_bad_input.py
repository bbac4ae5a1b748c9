"""Bad input to every public subscription function: a typed error, and nothing sent or written."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from billingos import Billing, ConflictError, InvalidInputError, NotFoundError


def _posts(billing: Billing) -> int:
    return sum(1 for m, _, _ in billing.emulator.request_log if m == "POST")


CREATE = [
    ({}, InvalidInputError),
    ({"price": "pro_monthly", "items": [{"price": "pro_monthly"}]}, InvalidInputError),
    ({"price": "nope_monthly"}, InvalidInputError),
    ({"price": "price_doesnotexist"}, InvalidInputError),
    ({"price": "bad key!"}, InvalidInputError),
    ({"price": "pro_monthly", "quantity": 0}, InvalidInputError),
    ({"price": "pro_monthly", "quantity": -3}, InvalidInputError),
    ({"price": "pro_monthly", "quantity": 2.5}, InvalidInputError),
    ({"price": "pro_monthly", "quantity": True}, InvalidInputError),
    ({"price": "pro_monthly", "trial_days": 0}, InvalidInputError),
    ({"price": "pro_monthly", "trial_days": 1000}, InvalidInputError),
    ({"price": "pro_monthly", "trial_days": 3, "trial_end": datetime(2030, 1, 1)}, InvalidInputError),
    ({"price": "pro_monthly", "trial_end": datetime(2030, 1, 1)}, InvalidInputError),
    ({"price": "pro_monthly", "payment_method": "card_123"}, InvalidInputError),
    ({"price": "pro_monthly", "payment_behavior": "yolo"}, InvalidInputError),
    ({"price": "pro_monthly", "metadata": {"a": 1}}, InvalidInputError),
    ({"items": []}, InvalidInputError),
    ({"items": [{"price": "pro_monthly", "qty": 1}]}, InvalidInputError),
    ({"items": ["pro_monthly"]}, InvalidInputError),
]


@pytest.mark.parametrize(("kwargs", "error"), CREATE)
def test_bad_create(billing: Billing, plans: Any, card_customer: Any, kwargs: dict[str, Any],
                    error: type[Exception]) -> None:
    posts = _posts(billing)
    with pytest.raises(error):
        billing.subscriptions.create(card_customer, **kwargs)
    assert _posts(billing) == posts
    assert billing.subscriptions.list("org_card") == []


def test_unknown_customer(billing: Billing, plans: Any) -> None:
    with pytest.raises(NotFoundError):
        billing.subscriptions.create("org_nobody", price="pro_monthly")
    with pytest.raises(InvalidInputError):
        billing.subscriptions.create("", price="pro_monthly")


def test_bad_changes(billing: Billing, plans: Any, card_customer: Any) -> None:
    sub = billing.subscriptions.create(card_customer, price="pro_monthly")
    posts = _posts(billing)
    for kwargs in ({}, {"price": "nope"}, {"quantity": 0}, {"price": "pro_monthly", "proration": "maybe"}):
        with pytest.raises(InvalidInputError):
            billing.subscriptions.change(sub, **kwargs)
        with pytest.raises(InvalidInputError):
            billing.subscriptions.preview_change(sub, **kwargs)
    with pytest.raises(InvalidInputError):
        billing.subscriptions.pause(sub, behavior="sleep")
    with pytest.raises(InvalidInputError):
        billing.subscriptions.pause(sub, resumes_at=billing.now() - timedelta(days=1))
    with pytest.raises(ConflictError):
        billing.subscriptions.resume(sub)
    with pytest.raises(ConflictError):
        billing.subscriptions.reactivate(sub)
    assert _posts(billing) == posts
    for bad in ("sub_missing", "in_123", "", None):
        with pytest.raises((NotFoundError, InvalidInputError)):
            billing.subscriptions.get(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        billing.subscriptions.list("")


def test_ended_subscription_refuses_changes(billing: Billing, plans: Any, card_customer: Any) -> None:
    sub = billing.subscriptions.create(card_customer, price="pro_monthly")
    billing.subscriptions.cancel(sub, at_period_end=False)
    with pytest.raises(ConflictError):
        billing.subscriptions.change(sub, price="team_monthly")
    with pytest.raises(ConflictError):
        billing.subscriptions.cancel(sub)


def test_bad_invoice_reads(billing: Billing) -> None:
    with pytest.raises(InvalidInputError):
        billing.invoices.get("sub_123")
    with pytest.raises(NotFoundError):
        billing.invoices.get("in_missing")
    with pytest.raises(InvalidInputError):
        billing.invoices.list("org", status="weird")
    with pytest.raises(InvalidInputError):
        billing.invoices.list("org", limit=0)
