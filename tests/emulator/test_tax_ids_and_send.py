"""Customer tax IDs (formats, verification, events) and sending invoices for manual payment."""

from __future__ import annotations

import pytest
import stripe

from billingos.emulator import Emulator

from .hosted_kit import event_types


@pytest.fixture
def customer(client):
    return client.v1.customers.create(params={"email": "tax@b.co", "name": "Acme GmbH"})


@pytest.mark.parametrize(("kind", "value", "stored", "country"), [
    ("eu_vat", "DE123456789", "DE123456789", "DE"),
    ("eu_vat", "fr 12 345678901", "FR12345678901", "FR"),
    ("eu_vat", "EL123456789", "EL123456789", "GR"),
    ("eu_vat", "NL123456789B01", "NL123456789B01", "NL"),
    ("gb_vat", "GB123456789", "GB123456789", "GB"),
    ("us_ein", "12-3456789", "12-3456789", "US"),
    ("au_abn", "12345678912", "12345678912", "AU"),
    ("ca_gst_hst", "123456789RT0002", "123456789RT0002", "CA"),
    ("ch_vat", "CHE-123.456.789 MWST", "CHE-123.456.789MWST", "CH"),
    ("in_gst", "22AAAAA0000A1Z5", "22AAAAA0000A1Z5", "IN"),
])
def test_valid_values_are_stored_with_their_country(client, customer, kind, value, stored, country) -> None:
    tid = client.v1.customers.tax_ids.create(customer.id, params={"type": kind, "value": value})
    assert (tid.type, tid.value, tid.country, tid.customer) == (kind, stored, country, customer.id)
    assert tid.owner.type == "customer" and tid.owner.customer == customer.id and tid.id.startswith("txi_")


@pytest.mark.parametrize(("kind", "value"), [
    ("eu_vat", "DE12345678"), ("eu_vat", "XX123456789"), ("eu_vat", "123456789"), ("gb_vat", "GB12345"),
    ("us_ein", "123-45-6789"), ("au_abn", "1234567891"), ("eu_vat", "DE12345678\u0000"), ("in_gst", "22AAAAA0000A1X5"),
])
def test_invalid_values_are_tax_id_invalid(client, customer, kind, value) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.tax_ids.create(customer.id, params={"type": kind, "value": value})
    e = exc.value
    assert (e.http_status, e.code, e.param) == (400, "tax_id_invalid", "value")
    assert e.user_message == f"Invalid value for {kind}."
    assert client.v1.customers.tax_ids.list(customer.id).data == []


def test_verification_pending_then_verified_or_unverified(client, customer, emulator: Emulator) -> None:
    mark = len(emulator.store.all("event"))
    tid = client.v1.customers.tax_ids.create(customer.id, params={"type": "eu_vat", "value": "DE123456789"})
    assert tid.verification.status == "pending"
    later = client.v1.customers.tax_ids.retrieve(customer.id, tid.id)
    assert (later.verification.status, later.verification.verified_name) == ("verified", "Acme GmbH")
    assert event_types(emulator, mark) == ["customer.tax_id.created", "customer.tax_id.updated"]
    created = emulator.store.all("event")[mark]
    assert created["data"]["object"]["verification"]["status"] == "pending"
    bad = client.v1.customers.tax_ids.create(customer.id, params={"type": "gb_vat", "value": "GB111111111"})
    assert client.v1.customers.tax_ids.retrieve(customer.id, bad.id).verification.status == "unverified"
    ein = client.v1.customers.tax_ids.create(customer.id, params={"type": "us_ein", "value": "12-3456789"})
    assert ein.verification.status == "unavailable"
    assert event_types(emulator)[-1] == "customer.tax_id.created"     # nothing to verify: no update


def test_list_retrieve_delete_and_foreign_ids(client, customer, emulator: Emulator) -> None:
    a = client.v1.customers.tax_ids.create(customer.id, params={"type": "us_ein", "value": "12-3456789"})
    b = client.v1.customers.tax_ids.create(customer.id, params={"type": "eu_vat", "value": "DE123456789"})
    assert [t.id for t in client.v1.customers.tax_ids.list(customer.id).data] == [b.id, a.id]
    other = client.v1.customers.create(params={})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.tax_ids.retrieve(other.id, a.id)
    assert exc.value.http_status == 404 and exc.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.tax_ids.delete(other.id, a.id)
    gone = client.v1.customers.tax_ids.delete(customer.id, a.id)
    assert (gone.id, gone.deleted) == (a.id, True)
    assert event_types(emulator)[-1] == "customer.tax_id.deleted"
    assert [t.id for t in client.v1.customers.tax_ids.list(customer.id).data] == [b.id]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.tax_ids.retrieve(customer.id, a.id)


def test_bad_requests(client, customer) -> None:
    cases = [
        ({"value": "DE123456789"}, "parameter_missing", "type"),
        ({"type": "eu_vat"}, "parameter_missing", "value"),
        ({"type": "xx_tin", "value": "1"}, "parameter_invalid", "type"),
        ({"type": ["eu_vat"], "value": "DE123456789"}, "parameter_invalid", "type"),
        ({"type": "eu_vat", "value": "DE123456789", "verified": True}, "parameter_unknown", "verified"),
    ]
    for params, code, param in cases:
        with pytest.raises(stripe.InvalidRequestError) as exc:
            client.v1.customers.tax_ids.create(customer.id, params=params)
        assert (exc.value.code, exc.value.param) == (code, param), params
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.tax_ids.create("cus_nope", params={"type": "us_ein", "value": "12-3456789"})
    assert exc.value.http_status == 404


def test_at_most_25_tax_ids(client, customer) -> None:
    for i in range(25):
        client.v1.customers.tax_ids.create(customer.id, params={"type": "us_ein", "value": f"12-34567{i:02d}"})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.tax_ids.create(customer.id, params={"type": "us_ein", "value": "98-7654321"})


# --- invoice send -------------------------------------------------------------------------------------
def test_send_finalizes_a_draft_and_emits_invoice_sent(client, customer, emulator: Emulator) -> None:
    inv = client.v1.invoices.create(params={"customer": customer.id, "collection_method": "send_invoice",
                                            "days_until_due": 14})
    client.v1.invoice_items.create(params={"customer": customer.id, "invoice": inv.id, "amount": 4200,
                                           "currency": "usd"})
    mark = len(emulator.store.all("event"))
    sent = client.v1.invoices.send_invoice(inv.id)
    assert (sent.status, sent.amount_due) == ("open", 4200) and sent.number is not None
    types = event_types(emulator, mark)
    assert types[0] == "invoice.finalized" and types[-1] == "invoice.sent"
    mark = len(emulator.store.all("event"))
    again = client.v1.invoices.send_invoice(inv.id)          # resending an open invoice is allowed
    assert again.status == "open" and event_types(emulator, mark) == ["invoice.sent"]
    client.v1.invoices.pay(inv.id, params={"paid_out_of_band": True})
    assert client.v1.invoices.send_invoice(inv.id).status == "paid"


def test_send_refuses_automatic_collection_and_void_invoices(client, customer) -> None:
    auto = client.v1.invoices.create(params={"customer": customer.id})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoices.send_invoice(auto.id)
    assert "collection method is 'send_invoice'" in exc.value.user_message
    assert client.v1.invoices.retrieve(auto.id).status == "draft"
    manual = client.v1.invoices.create(params={"customer": customer.id, "collection_method": "send_invoice",
                                               "days_until_due": 3})
    client.v1.invoice_items.create(params={"customer": customer.id, "invoice": manual.id, "amount": 100,
                                           "currency": "usd"})
    client.v1.invoices.finalize_invoice(manual.id)
    client.v1.invoices.void_invoice(manual.id)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.send_invoice(manual.id)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoices.send_invoice("in_nope")
    assert exc.value.http_status == 404
