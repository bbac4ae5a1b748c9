"""Invoice totals: line discounts (percent_off / amount_off coupons), exclusive and inclusive tax rates,
and the invoice's subtotal, discount and tax totals, total and amount due. Integers throughout; each
amount is rounded half up once, per line.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any

from .rating import round_line

if TYPE_CHECKING:
    from .app import Emulator


def discount_applies(em: Emulator, disc: dict[str, Any], inv: dict[str, Any]) -> bool:
    if disc.get("end") is not None and inv["created"] >= disc["end"]:
        return False
    return disc["id"] not in em.state.used_up_discounts


def compute(
    em: Emulator,
    inv: dict[str, Any],
    *,
    apply_balance: bool = False,
    extra: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Recompute line discounts and taxes and every invoice total. Integers throughout.
    ``extra`` holds discount objects not stored yet (dry runs)."""
    lines = inv["lines"]["data"]
    for line in lines:
        line["discount_amounts"] = []
    for did in inv["discounts"]:
        disc = (extra or {}).get(did) or em.store.objects.get(did)
        if disc is None or not discount_applies(em, disc, inv):
            continue
        coupon = em.store.objects[disc["source"]["coupon"]]
        _apply_coupon(coupon, did, [ln for ln in lines if ln["discountable"]], inv["currency"])
    for line in lines:
        _line_taxes(em, line)
    _totals(inv, lines)
    if inv["status"] == "draft":
        inv["amount_due"] = max(0, inv["total"] + (_balance(em, inv) if apply_balance else 0))
        inv["starting_balance"] = _balance(em, inv) if apply_balance else 0
        inv["amount_remaining"] = inv["amount_due"] - inv["amount_paid"]
    inv["lines"]["total_count"] = len(lines)
    return inv


def _balance(em: Emulator, inv: dict[str, Any]) -> int:
    return int(em.store.objects[inv["customer"]].get("balance") or 0)


def _net(line: dict[str, Any]) -> int:
    return line["amount"] - sum(d["amount"] for d in line["discount_amounts"])


def _apply_coupon(coupon: dict[str, Any], did: str, lines: list[dict[str, Any]], currency: str) -> None:
    if coupon.get("percent_off") is not None:
        pct = Fraction(str(coupon["percent_off"]))
        for line in lines:
            amt = round_line(Fraction(_net(line)) * pct / 100)
            line["discount_amounts"].append({"amount": amt, "discount": did})
        return
    if (coupon.get("currency") or currency) != currency:
        return
    bases = [max(0, _net(line)) for line in lines]
    cap = min(int(coupon["amount_off"]), sum(bases))
    shares = _allocate(cap, bases)
    for line, share in zip(lines, shares, strict=True):
        line["discount_amounts"].append({"amount": share, "discount": did})


def _allocate(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (largest remainder), summing exactly to ``total``."""
    whole = sum(weights)
    if whole <= 0 or total <= 0:
        return [0] * len(weights)
    raw = [Fraction(total * w, whole) for w in weights]
    out = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - out[i], reverse=True)
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out


def _line_taxes(em: Emulator, line: dict[str, Any]) -> None:
    taxable = _net(line)
    rates = [em.store.objects[t["tax_rate_details"]["tax_rate"]] for t in line["taxes"]]
    inclusive_pct = sum((Fraction(str(r["percentage"])) for r in rates if r["inclusive"]), Fraction(0))
    base_incl = Fraction(taxable) * 100 / (100 + inclusive_pct)
    out = []
    for r in rates:
        pct = Fraction(str(r["percentage"]))
        if r["inclusive"]:
            amount, basis = round_line(base_incl * pct / 100), round_line(base_incl)
        else:
            amount, basis = round_line(Fraction(taxable) * pct / 100), taxable
        out.append(
            {
                "amount": amount,
                "tax_behavior": "inclusive" if r["inclusive"] else "exclusive",
                "tax_rate_details": {"tax_rate": r["id"]},
                "taxability_reason": "standard_rated",
                "taxable_amount": basis,
                "type": "tax_rate_details",
            }
        )
    line["taxes"] = out


def _totals(inv: dict[str, Any], lines: list[dict[str, Any]]) -> None:
    subtotal = sum(ln["amount"] for ln in lines)
    by_disc: dict[str, int] = {}
    by_tax: dict[tuple[str, str], dict[str, Any]] = {}
    for ln in lines:
        for d in ln["discount_amounts"]:
            by_disc[d["discount"]] = by_disc.get(d["discount"], 0) + d["amount"]
        for t in ln["taxes"]:
            key = (t["tax_rate_details"]["tax_rate"], t["tax_behavior"])
            agg = by_tax.setdefault(key, {**t, "amount": 0, "taxable_amount": 0})
            agg["amount"] += t["amount"]
            agg["taxable_amount"] += t["taxable_amount"]
    discount = sum(by_disc.values())
    exclusive = sum(t["amount"] for t in by_tax.values() if t["tax_behavior"] == "exclusive")
    inclusive = sum(t["amount"] for t in by_tax.values() if t["tax_behavior"] == "inclusive")
    inv["subtotal"] = subtotal
    inv["subtotal_excluding_tax"] = subtotal - inclusive
    inv["total_discount_amounts"] = [{"amount": a, "discount": d} for d, a in by_disc.items()]
    inv["total_taxes"] = list(by_tax.values())
    inv["total"] = subtotal - discount + exclusive
    inv["total_excluding_tax"] = inv["total"] - exclusive - inclusive
