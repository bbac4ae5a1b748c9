"""Dashboard edits to products, prices and meters reach the local mirror through webhooks."""

from __future__ import annotations

from typing import Any

from billingos import Billing


def test_dashboard_edits_reach_the_mirror(billing: Billing) -> None:
    billing.testing.connect()
    billing.catalog.sync({"products": [{"key": "pro", "name": "Pro", "prices": [
        {"lookup_key": "pro_monthly", "currency": "usd", "unit_amount": 2000, "interval": "month"}]}]})
    product = billing.catalog.product("pro")
    billing.stripe.v1.products.update(product.id, params={"name": "Pro (renamed in the Dashboard)"})
    assert billing.catalog.product("pro").name == "Pro (renamed in the Dashboard)"
    price = billing.catalog.price("pro_monthly")
    billing.stripe.v1.prices.update(price.id, params={"nickname": "Legacy", "active": False})
    assert billing.catalog.price(price.id).active is False
    handled: dict[str, Any] = {e.type: e.status for e in billing.webhooks.events(limit=100)}
    assert handled["product.updated"] == "processed" and handled["price.updated"] == "processed"


def test_a_price_created_in_the_dashboard_is_mirrored(billing: Billing) -> None:
    billing.testing.connect()
    prod = billing.stripe.v1.products.create(params={"name": "Side product"})
    billing.stripe.v1.prices.create(params={"product": prod.id, "currency": "eur", "unit_amount": 500,
                                            "lookup_key": "side_once"})
    assert billing.catalog.price("side_once").currency == "eur"
