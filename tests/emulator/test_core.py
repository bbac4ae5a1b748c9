"""The emulator core through the real SDK: forms, idempotency, auth, pagination, search, expand, faults."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import stripe

from billingos.emulator import Emulator
from billingos.emulator.forms import FormError, decode


# --- forms -------------------------------------------------------------------------------------------
def test_forms_decode_nested_hashes_and_arrays() -> None:
    got = decode("a[b][0][c]=1&a[b][1][c]=2&expand[]=x&expand[]=y&m[k]=&name=Ada%20L&e=a%2Bb%40c.co")
    assert got == {"a": {"b": [{"c": "1"}, {"c": "2"}]}, "expand": ["x", "y"], "m": {"k": ""},
                   "name": "Ada L", "e": "a+b@c.co"}
    assert decode("") == {}


@pytest.mark.parametrize("body", ["a[0]=x&a[2]=y", "a]b=1", "a=1&a[b]=2"])
def test_forms_refuse_malformed_keys(body: str) -> None:
    with pytest.raises(FormError):
        decode(body)


def test_malformed_form_is_a_400_over_the_wire(emulator: Emulator) -> None:
    status, _, body = emulator.handle("POST", "/v1/customers", "", "a[0]=x&a[2]=y",
                                      {"Authorization": "Bearer sk_test_x"})
    assert status == 400 and json.loads(body)["error"]["type"] == "invalid_request_error"


# --- idempotency -------------------------------------------------------------------------------------
def test_idempotent_replay_returns_the_first_answer(client) -> None:
    a = client.v1.customers.create(params={"email": "i@b.co"}, options={"idempotency_key": "intent-1"})
    b = client.v1.customers.create(params={"email": "i@b.co"}, options={"idempotency_key": "intent-1"})
    assert a.id == b.id and len(client.v1.customers.list().data) == 1
    assert b.last_response.headers.get("idempotent-replayed") == "true"
    assert a.last_response.headers.get("idempotent-replayed") is None


def test_idempotency_key_with_other_params_is_refused(client) -> None:
    client.v1.customers.create(params={"email": "i@b.co"}, options={"idempotency_key": "intent-2"})
    with pytest.raises(stripe.IdempotencyError) as exc:
        client.v1.customers.create(params={"email": "other@b.co"}, options={"idempotency_key": "intent-2"})
    assert "same parameters" in str(exc.value.user_message) and exc.value.http_status == 400
    assert len(client.v1.customers.list().data) == 1


def test_idempotency_keys_expire_after_24_hours(client, clock) -> None:
    a = client.v1.customers.create(params={"name": "A"}, options={"idempotency_key": "intent-3"})
    clock.advance(hours=23, minutes=59)
    again = client.v1.customers.create(params={"name": "A"}, options={"idempotency_key": "intent-3"})
    assert again.id == a.id
    clock.advance(timedelta(minutes=2))
    b = client.v1.customers.create(params={"name": "A"}, options={"idempotency_key": "intent-3"})
    assert b.id != a.id and len(client.v1.customers.list().data) == 2


def test_idempotency_replays_errors_and_is_scoped_per_key(client, emulator: Emulator) -> None:
    for _ in range(2):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            client.v1.customers.create(params={"email": "not-an-email"}, options={"idempotency_key": "bad"})
        assert exc.value.code == "email_invalid"
    other = emulator.client("sk_test_other_key")
    a = client.v1.customers.create(params={"name": "A"}, options={"idempotency_key": "shared"})
    b = other.v1.customers.create(params={"name": "A"}, options={"idempotency_key": "shared"})
    assert a.id != b.id


# --- auth ----------------------------------------------------------------------------------------------
def test_missing_api_key_is_401(emulator: Emulator) -> None:
    status, _, body = emulator.handle("GET", "/v1/customers", "", "", {})
    assert status == 401 and "did not provide an API key" in json.loads(body)["error"]["message"]


@pytest.mark.parametrize("key", ["sk_live_abcdef123456", "pk_test_abcdef", "nonsense_key_123"])
def test_live_and_publishable_keys_are_refused(emulator: Emulator, key: str) -> None:
    with pytest.raises(stripe.AuthenticationError) as exc:
        emulator.client(key).v1.customers.list()
    assert exc.value.http_status == 401 and "Invalid API Key provided" in str(exc.value.user_message)
    assert key not in str(exc.value.user_message)          # never echo a full key


def test_restricted_test_keys_work(emulator: Emulator) -> None:
    assert emulator.client("rk_test_restricted").v1.customers.list().data == []


# --- pagination ----------------------------------------------------------------------------------------
@pytest.fixture
def five(client) -> list[str]:
    return [client.v1.customers.create(params={"name": f"c{i}"}).id for i in range(5)]   # oldest first


def test_pagination_starting_after_and_ending_before(client, five: list[str]) -> None:
    newest_first = list(reversed(five))
    page1 = client.v1.customers.list(params={"limit": 2})
    assert [c.id for c in page1.data] == newest_first[:2] and page1.has_more is True
    page2 = client.v1.customers.list(params={"limit": 2, "starting_after": page1.data[-1].id})
    assert [c.id for c in page2.data] == newest_first[2:4] and page2.has_more is True
    page3 = client.v1.customers.list(params={"limit": 2, "starting_after": page2.data[-1].id})
    assert [c.id for c in page3.data] == newest_first[4:] and page3.has_more is False
    back = client.v1.customers.list(params={"limit": 2, "ending_before": page3.data[0].id})
    assert [c.id for c in back.data] == newest_first[2:4] and back.has_more is True
    assert [c.id for c in client.v1.customers.list().auto_paging_iter()] == newest_first


def test_pagination_refusals(client, five: list[str]) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.list(params={"starting_after": five[0], "ending_before": five[1]})
    assert "only specify one of" in str(exc.value.user_message)
    with pytest.raises(stripe.InvalidRequestError) as exc2:
        client.v1.customers.list(params={"starting_after": "cus_gone"})
    assert exc2.value.http_status == 400 and exc2.value.param == "starting_after"   # a param: 400
    for limit in (0, 101):
        with pytest.raises(stripe.InvalidRequestError) as exc3:
            client.v1.customers.list(params={"limit": limit})
        assert exc3.value.param == "limit"


# --- search --------------------------------------------------------------------------------------------
@pytest.fixture
def people(client) -> dict[str, str]:
    rows = [("ada@b.co", "Ada Lovelace", "gold"), ("alan@b.co", "Alan Turing", "silver"),
            ("grace@b.co", "Grace Hopper", "gold")]
    return {name: client.v1.customers.create(params={"email": e, "name": name, "metadata": {"tier": t}}).id
            for e, name, t in rows}


@pytest.mark.parametrize(("query", "names"), [
    ("email:'ada@b.co'", ["Ada Lovelace"]),
    ("EMAIL:'x'", None),
    ("name~'ing'", ["Alan Turing"]),
    ("metadata['tier']:'gold'", ["Grace Hopper", "Ada Lovelace"]),
    ("metadata['tier']:'gold' AND -name:'Ada Lovelace'", ["Grace Hopper"]),
    ("email:'ada@b.co' OR email:'alan@b.co'", ["Alan Turing", "Ada Lovelace"]),
    ("created>0", ["Grace Hopper", "Alan Turing", "Ada Lovelace"]),
    ("created<0", []),
])
def test_search_syntax(client, people: dict[str, str], query: str, names: list[str] | None) -> None:
    if names is None:
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.customers.search(params={"query": query})
        return
    result = client.v1.customers.search(params={"query": query})
    assert [c.name for c in result.data] == names


def test_search_refuses_mixed_operators_and_pages(client, people: dict[str, str]) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.search(params={"query": "name:'a' AND name:'b' OR name:'c'"})
    assert "cannot mix AND and OR" in str(exc.value.user_message)
    first = client.v1.customers.search(params={"query": "created>0", "limit": 2})
    assert first.has_more is True and first.next_page
    rest = client.v1.customers.search(params={"query": "created>0", "limit": 2, "page": first.next_page})
    assert [c.name for c in rest.data] == ["Ada Lovelace"] and rest.has_more is False


# --- expand --------------------------------------------------------------------------------------------
def test_expand_on_objects_and_lists(client) -> None:
    cust = client.v1.customers.create(params={"payment_method": "pm_card_visa"})
    pm = client.v1.customers.payment_methods.list(cust.id).data[0]
    client.v1.customers.update(cust.id, params={"invoice_settings": {"default_payment_method": pm.id}})
    got = client.v1.customers.retrieve(
        cust.id, params={"expand": ["invoice_settings.default_payment_method"]})
    assert got.invoice_settings.default_payment_method.card.last4 == "4242"
    listed = client.v1.payment_methods.list(params={"customer": cust.id, "expand": ["data.customer"]})
    assert listed.data[0].customer.id == cust.id and listed.data[0].customer.object == "customer"
    plain = client.v1.payment_methods.retrieve(pm.id)
    assert plain.customer == cust.id                      # only expanded when asked


def test_expand_refuses_unknown_paths(client) -> None:
    cust = client.v1.customers.create()
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.retrieve(cust.id, params={"expand": ["nonexistent"]})
    assert "cannot be expanded" in str(exc.value.user_message) and exc.value.param == "expand"


# --- faults, unknown params and routes -------------------------------------------------------------------
def test_down_raises_connection_error(client, emulator: Emulator) -> None:
    emulator.faults.down = True
    with pytest.raises(stripe.APIConnectionError):
        client.v1.customers.create()
    emulator.faults.reset()
    assert client.v1.customers.list().data == []           # nothing was written during the outage


def test_fail_next_answers_500_then_recovers(client, emulator: Emulator) -> None:
    emulator.faults.fail_next = 2
    for _ in range(2):
        with pytest.raises(stripe.APIError) as exc:
            client.v1.customers.create()
        assert exc.value.http_status == 500
        assert exc.value.headers.get("stripe-should-retry") == "true"
    assert client.v1.customers.create().id.startswith("cus_")
    assert len(client.v1.customers.list().data) == 1


def test_fail_paths_only_hit_matching_paths(client, emulator: Emulator) -> None:
    emulator.faults.fail_paths.add("/v1/payment_methods")
    with pytest.raises(stripe.APIError):
        client.v1.payment_methods.list()
    assert client.v1.customers.list().data == []


def test_unknown_params_are_refused_without_writing(client) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.create(params={"email": "u@b.co", "favourite_colour": "blue"})
    assert (exc.value.code, exc.value.param) == ("parameter_unknown", "favourite_colour")
    assert exc.value.user_message == "Received unknown parameter: favourite_colour"
    with pytest.raises(stripe.InvalidRequestError) as exc2:
        client.v1.customers.create(params={"address": {"planet": "Mars"}})
    assert exc2.value.param == "address[planet]"
    assert client.v1.customers.list().data == []


def test_unknown_routes_and_methods(emulator: Emulator) -> None:
    auth = {"Authorization": "Bearer sk_test_x"}
    status, _, body = emulator.handle("GET", "/v1/teleporters", "", "", auth)
    assert status == 404 and "Unrecognized request URL" in json.loads(body)["error"]["message"]
    status2, _, body2 = emulator.handle("PUT", "/v1/customers", "", "", auth)
    assert status2 == 405 and "Unrecognized request method" in json.loads(body2)["error"]["message"]
