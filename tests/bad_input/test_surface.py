"""The sweep covers the whole public surface: a new public function or parameter fails here until it has
bad-input cases (or a written reason not to be swept)."""

from __future__ import annotations

from billingos import Billing
from tests.conftest import WEBHOOK_SECRET

from .surface import NOT_SWEPT, classify, in_transaction, public_functions, swept
from .test_sweep import SWEPT


def test_every_public_parameter_has_bad_input_cases() -> None:
    with Billing(database_url="sqlite://", stripe_emulator=True, webhook_secrets=[WEBHOOK_SECRET]) as billing:
        functions = public_functions(billing)
    unclassified = [f"{f.qualname}({p.name})" for f in functions if swept(f)
                    for p in f.params if classify(f, p) is None]
    assert unclassified == [], f"public parameters without bad-input cases: {unclassified}"
    names = {f.qualname for f in functions}
    assert sorted(set(NOT_SWEPT) - names) == [], "NOT_SWEPT names functions that no longer exist"
    no_params = {f.qualname for f in functions if not f.params}
    wiring = {f.qualname for f in functions if in_transaction(f)}
    assert set(SWEPT) | set(NOT_SWEPT) | no_params | wiring == names
    assert {"customers.apply", "jobs.enqueue"} <= wiring
    assert len(SWEPT) >= 60, SWEPT
