"""billing.api_keys on SQLite and PostgreSQL: secrets shown once, stored as SHA-256, scoped, revocable."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from billingos import Actor, Billing, InvalidInputError, NotFoundError, UnauthenticatedError
from billingos.cli import main
from billingos.models import BillingApiKey


def test_create_returns_the_secret_once_and_stores_only_its_sha256(billing: Billing) -> None:
    created = billing.api_keys.create("ci", ["entitlements:read", "billing:read"], owner_id="org_1")
    secret = created.secret
    assert re.fullmatch(r"bos_test_[0-9a-f]{12}_[A-Za-z0-9_\-]{43}", secret)
    assert created.key.id == "key_" + secret[9:21]
    assert (created.key.scopes, created.key.owner_id, created.key.name) == (
        ["entitlements:read", "billing:read"], "org_1", "ci")
    assert secret not in repr(created) and secret not in str(created)
    with billing.session_factory() as s:
        row = s.scalars(select(BillingApiKey)).one()
        dump = " ".join(str(v) for v in s.execute(text("SELECT * FROM billing_api_keys")).one())
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in dump and secret[21:] not in dump
    assert all(secret not in repr(k) for k in billing.api_keys.list())


def test_secrets_are_unique_and_long(billing: Billing) -> None:
    secrets_ = {billing.api_keys.create(f"k{i}", ["usage:write"]).secret for i in range(20)}
    assert len(secrets_) == 20
    assert all(len(s.rsplit("_", 1)[-1]) >= 43 or len(s) >= 60 for s in secrets_)   # 256 random bits


def test_authenticate_accepts_the_key_and_refuses_variants(billing: Billing) -> None:
    secret = billing.api_keys.create("ci", ["usage:write"]).secret
    assert billing.api_keys.authenticate(secret).scopes == ["usage:write"]
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    live = secret.replace("bos_test_", "bos_live_")
    for bad in (flipped, live, secret + "x", secret[:-1], "", "Bearer " + secret, secret.upper()):
        with pytest.raises(UnauthenticatedError) as err:
            billing.api_keys.authenticate(bad)
        assert secret not in str(err.value) and err.value.status == 401


def test_revoke_is_immediate_idempotent_and_listed(billing: Billing) -> None:
    secret = billing.api_keys.create("ci", ["usage:write"]).secret
    key_id = billing.api_keys.authenticate(secret).id
    revoked = billing.api_keys.revoke(key_id)
    assert revoked.revoked_at is not None
    with pytest.raises(UnauthenticatedError):
        billing.api_keys.authenticate(secret)
    assert billing.api_keys.revoke(key_id).revoked_at == revoked.revoked_at
    assert billing.api_keys.list() == []
    assert [k.id for k in billing.api_keys.list(include_revoked=True)] == [key_id]
    with pytest.raises(NotFoundError):
        billing.api_keys.revoke("key_000000000000")


def test_last_used_is_written_at_most_once_a_minute(billing: Billing, clock) -> None:  # type: ignore[no-untyped-def]
    secret = billing.api_keys.create("ci", ["usage:write"]).secret
    first = billing.api_keys.authenticate(secret)
    assert first.last_used_at is None      # the key as it was; this use is recorded
    stored = billing.api_keys.list()[0].last_used_at
    assert stored == clock.now()
    clock.advance(timedelta(seconds=30))
    billing.api_keys.authenticate(secret)
    assert billing.api_keys.list()[0].last_used_at == stored
    clock.advance(timedelta(seconds=31))
    billing.api_keys.authenticate(secret)
    assert billing.api_keys.list()[0].last_used_at == clock.now()


@pytest.mark.parametrize("kwargs, param", [
    ({"name": "", "scopes": ["usage:write"]}, "name"),
    ({"name": "x", "scopes": []}, "scopes"),
    ({"name": "x", "scopes": "usage:write"}, "scopes"),
    ({"name": "x", "scopes": ["admin"]}, "scopes"),
    ({"name": "x", "scopes": ["usage:write"], "owner_id": " o"}, "owner_id"),
    ({"name": "x", "scopes": ["usage:write"], "actor": "alice"}, "actor"),
])
def test_bad_input_is_refused_and_nothing_written(billing: Billing, kwargs: dict, param: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidInputError) as err:
        billing.api_keys.create(**kwargs)
    assert err.value.param == param
    assert billing.api_keys.list(include_revoked=True) == [] and billing.audit.list().items == []


def test_cli_create_list_revoke(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["db", "upgrade", "--database-url", url]) == 0
    stripe = ["--stripe-emulator"]   # every command that builds a Billing names its Stripe (issue 8 item 1)
    assert main(["api-keys", "create", "ci", "--scope", "billing:read", "--owner", "org_9", "--database-url", url,
                 *stripe]) == 0
    out = capsys.readouterr().out
    secret = re.search(r"bos_test_\S+", out)[0]  # type: ignore[index]
    key_id = re.search(r"key_[0-9a-f]{12}", out)[0]  # type: ignore[index]
    assert main(["api-keys", "list", "--database-url", url, *stripe]) == 0
    listed = capsys.readouterr().out
    assert key_id in listed and "org_9" in listed and secret not in listed
    assert main(["api-keys", "revoke", key_id, "--database-url", url, *stripe]) == 0
    assert main(["api-keys", "revoke", "nope", "--database-url", url, *stripe]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("billingos: key_id must be")
    with Billing(database_url=url, stripe_emulator=True) as billing:
        events = billing.audit.list().items
        assert [e.action for e in events] == ["api_key.revoked", "api_key.created"]
        assert events[1].actor_kind == "admin" and events[1].actor_id.startswith("cli")


def test_actor_is_recorded(billing: Billing) -> None:
    actor = Actor(kind="admin", id="alice@host", request_id="req_1", client_address="203.0.113.9")
    billing.api_keys.create("ci", ["billing:read"], actor=actor)
    entry = billing.audit.list().items[0]
    assert (entry.actor_kind, entry.actor_id, entry.request_id, entry.client_address) == (
        "admin", "alice@host", "req_1", "203.0.113.9")
