"""Products in the emulator, through the real stripe SDK."""

from __future__ import annotations

import pytest
import stripe

from billingos.emulator import Emulator


def _events(client, type_: str) -> list:
    return list(client.v1.events.list(params={"type": type_}).data)


def test_create_has_stripe_defaults(client, emulator: Emulator) -> None:
    p = client.v1.products.create(params={"name": "Pro"})
    now = int(emulator.clock.now().timestamp())
    assert p.id.startswith("prod_")
    assert (p.object, p.name, p.active, p.type) == ("product", "Pro", True, "service")
    assert p.created == p.updated == now
    assert p.default_price is None and p.description is None and p.url is None
    assert p.images == [] and p.marketing_features == [] and p.metadata.to_dict() == {}
    assert p.package_dimensions is None and p.shippable is None and p.livemode is False
    [event] = _events(client, "product.created")
    assert event.data.object.id == p.id


def test_create_with_every_field(client) -> None:
    p = client.v1.products.create(params={
        "id": "pro_plan", "name": "Pro", "description": "The pro plan", "active": False,
        "images": ["https://example.com/a.png"], "marketing_features": [{"name": "Unlimited"}],
        "metadata": {"tier": "2"}, "statement_descriptor": "BILLINGOS PRO", "tax_code": "txcd_10103001",
        "unit_label": "seat", "url": "https://example.com", "shippable": True, "type": "good",
        "package_dimensions": {"height": 1.5, "length": 2, "weight": 3, "width": 4}})
    assert p.id == "pro_plan"
    assert p.active is False and p.type == "good" and p.shippable is True
    assert p.images == ["https://example.com/a.png"]
    assert p.marketing_features[0].name == "Unlimited"
    assert p.package_dimensions.to_dict() == {"height": 1.5, "length": 2.0, "weight": 3.0, "width": 4.0}
    assert (p.statement_descriptor, p.tax_code, p.unit_label) == ("BILLINGOS PRO", "txcd_10103001", "seat")
    assert p.metadata["tier"] == "2"


def test_custom_id_must_be_unique(client, emulator: Emulator) -> None:
    client.v1.products.create(params={"id": "gold", "name": "Gold"})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.products.create(params={"id": "gold", "name": "Gold again"})
    assert exc.value.code == "resource_already_exists"
    assert len(emulator.store.all("product")) == 1


def test_default_price_data_creates_the_price(client) -> None:
    p = client.v1.products.create(params={"name": "Pro", "default_price_data": {
        "currency": "eur", "unit_amount": 1500, "recurring": {"interval": "month"}}})
    price = client.v1.prices.retrieve(p.default_price)
    assert (price.product, price.currency, price.unit_amount, price.type) == (p.id, "eur", 1500, "recurring")
    assert price.recurring.interval == "month" and price.recurring.interval_count == 1
    assert [e.data.object.id for e in _events(client, "price.created")] == [price.id]


@pytest.mark.parametrize("params,param", [
    ({}, "name"),
    ({"name": "x", "type": "thing"}, "type"),
    ({"name": "x", "unit_label": "a" * 13}, "unit_label"),
    ({"name": "x", "images": [f"https://e.x/{i}" for i in range(9)]}, "images"),
    ({"name": "x", "package_dimensions": {"height": 1, "length": 1, "weight": 1}},
     "package_dimensions[width]"),
    ({"name": "x", "default_price_data": {"currency": "usd"}}, None),
    ({"name": "x", "default_price_data": {"currency": "zzz", "unit_amount": 1}},
     "default_price_data[currency]"),
    ({"name": "x", "default_price_data": {"currency": "usd", "unit_amount": 1, "tiers_mode": "volume"}},
     "default_price_data[tiers_mode]"),
    ({"name": "x", "bogus": "1"}, "bogus"),
])
def test_create_rejects_bad_params_and_writes_nothing(client, emulator: Emulator, params, param) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.products.create(params=params)
    assert exc.value.http_status == 400
    assert exc.value.param == param
    assert emulator.store.all("product") == [] and emulator.store.all("price") == []
    assert emulator.store.all("event") == []


def test_update_records_previous_attributes(client, emulator: Emulator, clock) -> None:
    from datetime import timedelta
    p = client.v1.products.create(params={"name": "Pro", "metadata": {"a": "1"}})
    clock.advance(timedelta(seconds=60))
    updated = client.v1.products.update(p.id, params={"name": "Pro 2", "metadata": {"b": "2"}})
    assert updated.name == "Pro 2" and updated.metadata.to_dict() == {"a": "1", "b": "2"}
    assert updated.updated == p.updated + 60
    [event] = _events(client, "product.updated")
    assert event.data.previous_attributes.to_dict() == {"name": "Pro", "metadata": {"b": None},
                                                        "updated": p.updated}


def test_update_without_change_sends_no_event(client) -> None:
    p = client.v1.products.create(params={"name": "Pro"})
    client.v1.products.update(p.id, params={"name": "Pro"})
    assert _events(client, "product.updated") == []


def test_default_price_must_belong_to_the_product(client) -> None:
    a = client.v1.products.create(params={"name": "A"})
    b = client.v1.products.create(params={"name": "B"})
    price_b = client.v1.prices.create(params={"product": b.id, "currency": "usd", "unit_amount": 100})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.products.update(a.id, params={"default_price": price_b.id})
    assert exc.value.param == "default_price"
    assert client.v1.products.update(b.id, params={"default_price": price_b.id}).default_price == price_b.id
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.products.update(a.id, params={"default_price": "price_missing"})
    assert exc.value.http_status == 400 and exc.value.code == "resource_missing"


def test_delete_refuses_a_product_with_prices(client, emulator: Emulator) -> None:
    p = client.v1.products.create(params={"name": "Pro"})
    client.v1.prices.create(params={"product": p.id, "currency": "usd", "unit_amount": 100, "active": False})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.products.delete(p.id)
    assert exc.value.user_message == ("This product cannot be deleted because it has one or more "
                                      "user-created prices.")
    assert emulator.store.find(p.id) is not None


def test_delete_then_retrieve_is_404(client) -> None:
    p = client.v1.products.create(params={"name": "Pro"})
    gone = client.v1.products.delete(p.id)
    assert (gone.id, gone.deleted) == (p.id, True)
    [event] = _events(client, "product.deleted")
    assert event.data.object.id == p.id
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.products.retrieve(p.id)
    assert exc.value.http_status == 404
    assert client.v1.products.list().data == []


def test_list_filters(client) -> None:
    a = client.v1.products.create(params={"name": "A", "shippable": True, "url": "https://a.x"})
    b = client.v1.products.create(params={"name": "B", "active": False, "type": "good"})
    c = client.v1.products.create(params={"name": "C"})

    def ids(**params) -> list[str]:
        return [x.id for x in client.v1.products.list(params=params).data]

    assert ids() == [c.id, b.id, a.id]
    assert ids(active=True) == [c.id, a.id]
    assert ids(active=False) == [b.id]
    assert ids(shippable=True) == [a.id]
    assert ids(url="https://a.x") == [a.id]
    assert ids(type="good") == [b.id]
    assert ids(ids=[a.id, c.id]) == [c.id, a.id]
    assert ids(limit=1) == [c.id]
    assert ids(created={"gte": a.created}) == [c.id, b.id, a.id]


def test_search(client) -> None:
    a = client.v1.products.create(params={"name": "Gold plan", "metadata": {"tier": "gold"}})
    client.v1.products.create(params={"name": "Silver plan", "active": False})
    res = client.v1.products.search(params={"query": "active:'true' AND name~'plan'"})
    assert res.object == "search_result" and [x.id for x in res.data] == [a.id]
    res = client.v1.products.search(params={"query": "metadata['tier']:'gold'"})
    assert [x.id for x in res.data] == [a.id] and res.total_count == 1
