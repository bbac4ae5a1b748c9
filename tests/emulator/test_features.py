"""Entitlements features, product features and active entitlements in the emulator, via the real SDK."""

from __future__ import annotations

import pytest
import stripe

from billingos.emulator import Emulator


def _feature(client, key: str = "export", **extra):
    return client.v1.entitlements.features.create(params={"name": key.title(), "lookup_key": key, **extra})


def test_create_feature_shape(client, emulator: Emulator) -> None:
    f = _feature(client, metadata={"plan": "pro"})
    assert f.id.startswith("feat_test_") and f.object == "entitlements.feature"
    assert (f.name, f.lookup_key, f.active, f.livemode) == ("Export", "export", True, False)
    assert f.metadata.to_dict() == {"plan": "pro"}
    assert emulator.store.all("event") == []     # Stripe sends no feature events


@pytest.mark.parametrize("params,param", [
    ({"name": "Export"}, "lookup_key"),
    ({"lookup_key": "export"}, "name"),
    ({"name": "x" * 81, "lookup_key": "export"}, "name"),
    ({"name": "Export", "lookup_key": "export", "active": "false"}, "active"),
])
def test_create_feature_validation(client, emulator: Emulator, params, param) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.entitlements.features.create(params=params)
    assert exc.value.param == param and exc.value.http_status == 400
    assert emulator.store.all("entitlements.feature") == []


def test_lookup_key_is_unique(client, emulator: Emulator) -> None:
    _feature(client)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        _feature(client)
    assert exc.value.param == "lookup_key" and exc.value.http_status == 400
    assert len(emulator.store.all("entitlements.feature")) == 1


def test_update_and_archive(client) -> None:
    f = _feature(client, metadata={"a": "1"})
    f2 = client.v1.entitlements.features.update(f.id, params={"name": "CSV export", "metadata": {"b": "2"}})
    assert f2.name == "CSV export" and f2.metadata.to_dict() == {"a": "1", "b": "2"}
    archived = client.v1.entitlements.features.update(f.id, params={"active": False})
    assert archived.active is False
    assert client.v1.entitlements.features.retrieve(f.id).active is False
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.entitlements.features.update(f.id, params={"lookup_key": "other"})
    assert exc.value.param == "lookup_key"


def test_list_filters(client) -> None:
    a = _feature(client, "export")
    b = _feature(client, "sso")
    client.v1.entitlements.features.update(b.id, params={"active": False})

    def ids(**params) -> list[str]:
        return [x.id for x in client.v1.entitlements.features.list(params=params).data]

    assert ids() == [b.id, a.id]
    assert ids(lookup_key="sso") == [b.id]
    assert ids(archived=True) == [b.id]
    assert ids(archived=False) == [a.id]


def test_retrieve_missing_feature(client) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.entitlements.features.retrieve("feat_test_nope")
    assert exc.value.http_status == 404 and exc.value.code == "resource_missing"


def test_attach_list_retrieve_detach(client, emulator: Emulator) -> None:
    prod = client.v1.products.create(params={"name": "Pro"})
    f = _feature(client)
    pf = client.v1.products.features.create(prod.id, params={"entitlement_feature": f.id})
    assert pf.object == "product_feature" and pf.id.startswith("prodft_") and pf.livemode is False
    assert pf.entitlement_feature.to_dict() == f.to_dict()
    listed = client.v1.products.features.list(prod.id)
    assert listed.url == f"/v1/products/{prod.id}/features" and [x.id for x in listed.data] == [pf.id]
    assert client.v1.products.features.retrieve(prod.id, pf.id).entitlement_feature.id == f.id
    gone = client.v1.products.features.delete(prod.id, pf.id)
    assert (gone.id, gone.object, gone.deleted) == (pf.id, "product_feature", True)
    assert client.v1.products.features.list(prod.id).data == []
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.products.features.retrieve(prod.id, pf.id)
    assert exc.value.http_status == 404


def test_attach_twice_is_refused(client, emulator: Emulator) -> None:
    prod = client.v1.products.create(params={"name": "Pro"})
    f = _feature(client)
    client.v1.products.features.create(prod.id, params={"entitlement_feature": f.id})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.products.features.create(prod.id, params={"entitlement_feature": f.id})
    assert exc.value.http_status == 400 and exc.value.param == "entitlement_feature"
    assert len(emulator.store.all("product_feature")) == 1


def test_attach_needs_an_existing_active_feature(client, emulator: Emulator) -> None:
    prod = client.v1.products.create(params={"name": "Pro"})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.products.features.create(prod.id, params={"entitlement_feature": "feat_test_nope"})
    assert (exc.value.http_status, exc.value.code) == (400, "resource_missing")
    f = _feature(client)
    client.v1.entitlements.features.update(f.id, params={"active": False})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.products.features.create(prod.id, params={"entitlement_feature": f.id})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.products.features.create("prod_nope", params={"entitlement_feature": f.id})
    assert exc.value.http_status == 404
    assert emulator.store.all("product_feature") == []


def test_same_feature_on_two_products_and_renames_follow(client) -> None:
    a = client.v1.products.create(params={"name": "A"})
    b = client.v1.products.create(params={"name": "B"})
    f = _feature(client)
    pa = client.v1.products.features.create(a.id, params={"entitlement_feature": f.id})
    client.v1.products.features.create(b.id, params={"entitlement_feature": f.id})
    client.v1.entitlements.features.update(f.id, params={"name": "Exports"})
    assert client.v1.products.features.retrieve(a.id, pa.id).entitlement_feature.name == "Exports"
    assert len(client.v1.products.features.list(b.id).data) == 1
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.products.features.retrieve(b.id, pa.id)     # belongs to A


def test_active_entitlements_route(client, emulator: Emulator) -> None:
    cus = client.v1.customers.create(params={"email": "a@b.co"})
    res = client.v1.entitlements.active_entitlements.list(params={"customer": cus.id})
    assert (res.object, res.data, res.has_more) == ("list", [], False)
    assert res.url == "/v1/entitlements/active_entitlements"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.entitlements.active_entitlements.list(params={})
    assert exc.value.param == "customer"
