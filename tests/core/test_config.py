from __future__ import annotations

from typing import Any

import pytest
import stripe
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from billingos import Billing, BillingConfig, ConfigurationError
from billingos.emulator import Emulator

BAD = [
    ({}, "exactly one of database_url"),
    ({"database_url": "sqlite://", "engine": create_engine("sqlite://")}, "exactly one"),
    ({"database_url": "sqlite://", "stripe_emulator": True, "stripe_api_key": "sk_live_abc"}, "refuses live keys"),
    ({"database_url": "sqlite://", "stripe_api_key": "pk_test_abc"}, "secret or restricted key"),
    # issue 8 item 1: no key and no emulator is refused, never a placeholder key or an empty emulator
    ({"database_url": "sqlite://"}, "give stripe_api_key .* or stripe_emulator=True"),
    ({"database_url": "sqlite://", "stripe_api_base": "http://127.0.0.1:12111"}, "give stripe_api_key"),
    # issue 8 item 14: the rule that failed is the message (a minimum length, not a prefix)
    ({"database_url": "sqlite://", "stripe_emulator": True, "webhook_secrets": ["whsec_a"]},
     r"webhook_secrets\[0\] is 7 characters; a signing secret must be at least 16"),
    ({"database_url": "sqlite://", "stripe_emulator": True, "webhook_secrets": ["whsec_0123456789abcdef", 5]},
     "webhook_secrets.1: Input should be a valid string"),
    ({"database_url": "sqlite://", "stripe_emulator": True, "webhook_secrets": [" whsec_0123456789abcdef"]},
     "without surrounding spaces"),
    ({"database_url": "sqlite://", "stripe_emulator": True, "reconcile_max_removal": 1.5}, "reconcile_max_removal"),
    ({"database_url": "sqlite://", "webhook_tolerance": 0}, "replay protection"),
    ({"database_url": "sqlite://", "webhook_tolerance": -5}, "positive"),
    ({"database_url": "sqlite://", "webhook_secrets": ["nope"]}, "at least 16"),
    ({"database_url": "sqlite://", "default_currency": "xyz"}, "Unknown currency"),
    ({"database_url": "sqlite://", "clock": object()}, "now()"),
    ({"database_url": "sqlite://", "stripe_emulator": True, "stripe_api_base": "http://127.0.0.1:12111"},
     "exclusive"),
    ({"database_url": "sqlite://", "bogus_option": 1}, "Extra inputs"),
    ({"database_url": "sqlite://", "stripe_max_network_retries": 99}, "less than or equal"),
]


@pytest.mark.parametrize(("options", "reason"), BAD)
def test_bad_config_is_a_typed_error(options: dict[str, Any], reason: str) -> None:
    with pytest.raises(ConfigurationError, match=reason):
        Billing(**options)


def test_config_and_options_are_exclusive() -> None:
    cfg = BillingConfig(database_url="sqlite://", stripe_emulator=True)
    with pytest.raises(ConfigurationError, match="not both"):
        Billing(cfg, redis_url="redis://x")


def test_bad_database_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="database_url"):
        Billing(database_url="nosuchdriver://x", stripe_emulator=True)


def test_config_is_frozen() -> None:
    cfg = BillingConfig(database_url="sqlite://", stripe_emulator=True)
    with pytest.raises(Exception, match="frozen"):
        cfg.database_url = "sqlite:///other.db"  # type: ignore[misc]


def test_public_api_names_exist() -> None:
    """The names DESIGN.md's sketch promises (checked outside the suite too)."""
    billing = Billing(database_url="sqlite://", stripe_emulator=True)
    assert isinstance(billing.stripe, stripe.StripeClient)
    assert isinstance(billing.emulator, Emulator)
    assert callable(billing.migrate) and callable(billing.session_factory)
    for name in ("create", "get", "list", "update", "delete", "sync"):
        assert callable(getattr(billing.customers, name))
    assert callable(billing.catalog.sync)


def test_host_engine_and_session_factory_are_used() -> None:
    engine = create_engine("sqlite://")
    assert Billing(engine=engine, stripe_emulator=True).engine is engine
    factory = sessionmaker(bind=engine)
    b = Billing(session_factory=factory, stripe_emulator=True)
    assert b.session_factory is factory and b.engine is engine
    with pytest.raises(ConfigurationError, match="bound"):
        Billing(session_factory=sessionmaker(), stripe_emulator=True)


def test_no_global_stripe_api_key_is_set() -> None:
    before = stripe.api_key
    b = Billing(database_url="sqlite://", stripe_api_key="sk_test_somekey")
    assert stripe.api_key == before
    assert b.emulator is None


def test_stripe_api_base_points_the_client_at_another_server() -> None:
    """Exercised against the emulator served over HTTP, as a stand-in for stripe-mock."""
    import threading

    from billingos.emulator import serve
    server = serve(Emulator(), port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        b = Billing(database_url="sqlite://", stripe_api_key="sk_test_x", stripe_api_base=f"http://127.0.0.1:{port}",
                    stripe_max_network_retries=0)
        b.migrate()
        c = b.customers.create(owner_id="org_http", email="h@b.co")
        assert c.id.startswith("cus_") and b.stripe.v1.customers.retrieve(c.id).email == "h@b.co"
    finally:
        server.shutdown()
        server.server_close()


def test_emulator_state_persists_across_instances(tmp_path: Any) -> None:
    db, state = tmp_path / "b.db", tmp_path / "stripe.json"
    b1 = Billing(database_url=f"sqlite:///{db}", stripe_emulator=True, emulator_state_path=str(state))
    b1.migrate()
    c = b1.customers.create(owner_id="org_p", email="p@b.co")
    b2 = Billing(database_url=f"sqlite:///{db}", stripe_emulator=True, emulator_state_path=str(state))
    assert b2.stripe.v1.customers.retrieve(c.id).email == "p@b.co"
    assert b2.customers.get(owner_id="org_p").id == c.id


@pytest.mark.parametrize("content", ["not json", "[]", '{"objects": {}}', '{"objects": {}, "by_kind": {}, '
                                     '"deleted": [], "idempotency": [1]}'])
def test_a_foreign_emulator_state_file_is_a_configuration_error(tmp_path: Any, content: str) -> None:
    state = tmp_path / "stripe.json"
    state.write_text(content)
    with pytest.raises(ConfigurationError, match=r"emulator_state_path: .* is not an emulator state file"):
        Billing(database_url=f"sqlite:///{tmp_path / 'b.db'}", stripe_emulator=True, emulator_state_path=str(state))
    assert state.read_text() == content            # left as it was, for the host to look at


def test_an_unreadable_emulator_state_path_is_a_configuration_error(tmp_path: Any) -> None:
    with pytest.raises(ConfigurationError, match="emulator_state_path"):
        Billing(database_url=f"sqlite:///{tmp_path / 'b.db'}", stripe_emulator=True,
                emulator_state_path=str(tmp_path))                 # a directory: exists, cannot be read



def test_repr_and_errors_never_show_secrets() -> None:
    """repr(config) ends up in logs and tracebacks: keys by prefix only, URLs without their password."""
    from billingos.config import redact_url

    config = BillingConfig(database_url="postgresql+psycopg://app:hunter2secret@db.internal:5432/app",
                           stripe_api_key="sk_test_" + "k" * 40, webhook_secrets=["whsec_" + "w" * 32],
                           redis_url="redis://:redispassword@cache:6379/0")
    shown = repr(config)
    for secret in ("hunter2secret", "k" * 40, "w" * 32, "redispassword"):
        assert secret not in shown and secret not in str(config)
    assert "postgresql+psycopg://app:***@db.internal:5432/app" in shown and "sk_test_…" in shown
    assert redact_url("sqlite:///b.db") == "sqlite:///b.db"
    assert redact_url("redis://cache:6379/0") == "redis://cache:6379/0"
    with pytest.raises(ConfigurationError) as e:
        Billing(database_url="nosuchdialect://user:pa55word@host/db", stripe_emulator=True)
    assert "pa55word" not in e.value.message and "user:***@host" in e.value.message
