"""docs/security.md stays true: every module and test it cites exists, and the figures and facts it states
are read here from the code (a change to one of them fails this test until the page says the new value)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "security.md").read_text()
TEMPLATES = ROOT / "billingos" / "templates"


def test_every_cited_module_and_test_exists() -> None:
    paths = set(re.findall(r"`((?:billingos|tests)/[\w/.]+)`", PAGE))
    assert len(paths) > 20
    missing = [p for p in paths if not (ROOT / p).exists()]
    assert missing == []
    # each test named in a section exists in one of the test files cited in that section
    for section in re.split(r"^## ", PAGE, flags=re.M):
        files = [ROOT / p for p in re.findall(r"`(tests/[\w/]+\.py)`", section)]
        text = "".join(f.read_text() for f in files)
        for name in re.findall(r"`(test_\w+)`", section):
            assert f"def {name}(" in text, name


def test_the_stated_figures_are_the_codes() -> None:
    from billingos.api_keys.service import VERIFIED_TTL
    from billingos.config import API_RATE_LIMITS, MIN_SECRET_LENGTH, BillingConfig
    from billingos.pages.safety import CSRF_COOKIE, Csrf
    from billingos.webhooks.intake import MAX_BODY, MAX_DEPTH

    assert BillingConfig.model_fields["webhook_tolerance"].default == 300 and "(default\n  300" in PAGE
    assert MIN_SECRET_LENGTH == 16 and "at least 16 characters" in PAGE
    assert MAX_BODY == 512 * 1024 and "At most 512 KiB" in PAGE
    assert MAX_DEPTH == 64 and "nested at most 64 levels" in PAGE
    assert VERIFIED_TTL == 2.0 and "at most 2 seconds" in PAGE
    assert API_RATE_LIMITS == {"entitlements:read": "1200/minute", "usage:write": "1200/minute",
                               "billing:read": "120/minute"}
    assert "1200/minute for `entitlements:read` and `usage:write`" in PAGE and "120/minute for `billing:read`" in PAGE
    assert Csrf("k").max_age == 12 * 3600 and "valid 12 hours" in PAGE
    assert CSRF_COOKIE == "billingos_csrf" and "`billingos_csrf` cookie" in PAGE


def test_the_stated_headers_and_template_rules_hold() -> None:
    from billingos.pages.core import CONTENT_SECURITY_POLICY, SECURITY_HEADERS
    assert SECURITY_HEADERS == {"cache-control": "no-store", "x-content-type-options": "nosniff",
                                "x-frame-options": "DENY", "referrer-policy": "same-origin",
                                "content-security-policy": CONTENT_SECURITY_POLICY}
    policy = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert policy["script-src"] == "'self' https://js.stripe.com" and "unsafe" not in policy["script-src"]
    assert policy["default-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
    assert "`default-src 'self'`; scripts only from your app and `https://js.stripe.com`" in PAGE
    templates = {p: p.read_text() for p in TEMPLATES.rglob("*.html")}
    assert templates
    assert [p for p, t in templates.items() if re.search(r"\|\s*safe\b", t)] == []
    # data blocks (type="application/json") are not scripts: the policy does not run them
    inline = [p for p, t in templates.items()
              if re.search(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>", t)]
    assert inline == []


@pytest.mark.parametrize("secret", ["pagesecret123", "0123456789abcdefPAGE", "dbpassword"])
def test_the_stated_config_repr_rule_holds(secret: str) -> None:
    from billingos import BillingConfig
    config = BillingConfig(database_url="postgresql://app:dbpassword@db/app", stripe_api_key="sk_test_pagesecret123",
                           webhook_secrets=["whsec_0123456789abcdefPAGE"])
    assert secret not in repr(config)
    assert "`repr(billing.config)` shows the Stripe key and webhook secrets by their prefix only" in PAGE
