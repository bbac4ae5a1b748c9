"""Price parameters validated into a price object (not stored): amounts, tiers, recurring, packages,
currency options. Shared by ``POST /v1/prices`` and a product's ``default_price_data``."""

from __future__ import annotations

import itertools
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from .errors import StripeError, invalid
from .params import Params
from .store import new_id

if TYPE_CHECKING:
    from .app import Emulator

# Stripe caps a recurring period at three years (SDK docs for this API version: 3 years, 36 months,
# 156 weeks); days follow the same three-year cap.
MAX_INTERVAL_COUNT = {"day": 1095, "week": 156, "month": 36, "year": 3}
_ADJECTIVE = {"day": "daily", "week": "weekly", "month": "monthly", "year": "yearly"}
_CURRENCY_CODES = (
    "aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bif bmd bnd bob brl bsd bwp byn bzd cad cdf "
    "chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd gnf gtq gyd hkd hnl "
    "htg huf idr ils inr isk jmd jpy kes kgs khr kmf krw kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk "
    "mnt mop mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd pab pen pgk php pkr pln pyg qar ron rsd rub "
    "rwf sar sbd scr sek sgd shp sle sos srd std szl thb tjs top try ttd twd tzs uah ugx usd uyu uzs vnd "
    "vuv wst xaf xcd xof xpf yer zar zmw")
CURRENCIES = frozenset(_CURRENCY_CODES.split())
TAX_BEHAVIORS = ("exclusive", "inclusive", "unspecified")
_MAX_DECIMALS = 12


def parse_currency(p: Params, key: str = "currency", *, required: bool = True) -> str | None:
    value = p.str(key, required=required)
    if value is None:
        return None
    if value.lower() not in CURRENCIES:
        raise invalid(f"Invalid currency: {value}. Stripe currently supports these currencies: "
                      f"{', '.join(sorted(CURRENCIES))}", p._name(key))
    return value.lower()


def parse_decimal(p: Params, key: str) -> str | None:
    """A non-negative decimal string with at most 12 decimal places, kept as a normalised string."""
    raw = p.get(key)
    if raw is None:
        return None
    try:
        d = Decimal(str(raw).strip())
        if not d.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        raise invalid(f"Invalid decimal: {raw}", p._name(key)) from None
    if d < 0:
        raise invalid(f"Invalid {p._name(key)}: must be greater than or equal to 0", p._name(key))
    places = 0 if d == d.to_integral_value() else -int(d.normalize().as_tuple().exponent)
    if places > _MAX_DECIMALS:
        raise invalid(f"Invalid {p._name(key)}: it may have at most {_MAX_DECIMALS} decimal places.",
                      p._name(key))
    return _fmt(d)


def _fmt(d: Decimal) -> str:
    d = d.normalize()
    return f"{d:f}" if d != d.to_integral_value() else str(int(d))


def parse_amount(p: Params, key: str = "unit_amount") -> tuple[int | None, str | None]:
    """``unit_amount`` xor ``unit_amount_decimal`` -> (integer or None, decimal string) or (None, None)."""
    dec_key = f"{key}_decimal"
    if p.has(key) and p.has(dec_key):
        raise invalid(f"You may only specify one of these parameters: {key}, {dec_key}.", p._name(key))
    if p.has(key):
        n = p.int(key, min=0)
        return n, str(n)
    dec = parse_decimal(p, dec_key)
    if dec is None:
        return None, None
    return (int(dec) if "." not in dec else None), dec


def _recurring(em: Emulator, p: Params) -> dict[str, Any] | None:
    sub = p.sub("recurring")
    if sub is None:
        return None
    interval = sub.str("interval", required=True, choices=MAX_INTERVAL_COUNT)
    count = sub.int("interval_count", min=1, default=1)
    if count > MAX_INTERVAL_COUNT[interval]:
        raise invalid(f"The interval_count for {_ADJECTIVE[interval]} prices can't be greater than "
                      f"{MAX_INTERVAL_COUNT[interval]}", "recurring[interval_count]")
    usage = sub.str("usage_type", choices=("licensed", "metered"), default="licensed")
    trial = sub.int("trial_period_days", min=0, max=730)
    meter = sub.str("meter")
    sub.done()
    if usage == "metered" and meter is None:
        raise invalid("Starting with Stripe version `2025-03-31.basil`, metered prices must be backed by "
                      "meters. Pass `recurring[meter]` with the id of a billing meter.", "recurring[meter]")
    if meter is not None:
        if usage != "metered":
            raise invalid("`recurring[meter]` can only be set when `recurring[usage_type]` is `metered`.",
                          "recurring[meter]")
        _check_meter(em, meter)
    return {"interval": interval, "interval_count": count, "meter": meter, "trial_period_days": trial,
            "usage_type": usage}


def _check_meter(em: Emulator, meter_id: str) -> None:
    """Meters may not be emulated yet: accept a ``mtr_`` id until the first meter exists."""
    found = em.store.find(meter_id)
    if found is not None and found.get("object") == "billing.meter":
        return
    if found is None and not em.store.all("billing.meter") and meter_id.startswith("mtr_"):
        return
    raise StripeError(f"No such billing meter: '{meter_id}'", param="recurring[meter]",
                      code="resource_missing")


def _tiers(p: Params) -> list[dict[str, Any]]:
    raw = p.list("tiers", required=True)
    if not raw:
        raise invalid("Missing required param: tiers.", "tiers")
    out: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise invalid(f"Invalid object: tiers[{i}] must be a hash.", f"tiers[{i}]")
        out.append(_tier(Params(item, f"tiers[{i}]"), last=i == len(raw) - 1))
    bounds = [t["up_to"] for t in out[:-1]]
    if any(b <= a for a, b in itertools.pairwise(bounds)):
        raise invalid("Tiers must be sorted by `up_to` in ascending order, with no two tiers sharing "
                      "a bound.", "tiers")
    return out


def _tier(t: Params, *, last: bool) -> dict[str, Any]:
    up_to = t.required("up_to")
    if up_to == "inf":
        if not last:
            raise invalid("Only the last tier may have `up_to` set to `inf`.", t._name("up_to"))
        up_to = None
    else:
        up_to = t.int("up_to", min=1)
        if last:
            raise invalid("The last tier must have `up_to` set to `inf`.", t._name("up_to"))
    unit, unit_dec = parse_amount(t, "unit_amount")
    flat, flat_dec = parse_amount(t, "flat_amount")
    t.done()
    if unit_dec is None and flat_dec is None:
        raise invalid("Each tier needs at least one of `unit_amount`, `unit_amount_decimal`, "
                      "`flat_amount` or `flat_amount_decimal`.", t.prefix)
    return {"flat_amount": flat, "flat_amount_decimal": flat_dec, "unit_amount": unit,
            "unit_amount_decimal": unit_dec, "up_to": up_to}


def _transform(p: Params) -> dict[str, Any] | None:
    sub = p.sub("transform_quantity")
    if sub is None:
        return None
    out = {"divide_by": sub.int("divide_by", required=True, min=1),
           "round": sub.str("round", required=True, choices=("down", "up"))}
    sub.done()
    return out


def _custom_unit_amount(p: Params) -> dict[str, Any] | None:
    sub = p.sub("custom_unit_amount")
    if sub is None:
        return None
    enabled = sub.bool("enabled")
    if enabled is None:
        raise StripeError("Missing required param: custom_unit_amount[enabled].",
                          param="custom_unit_amount[enabled]", code="parameter_missing")
    out = {k: sub.int(k, min=0) for k in ("maximum", "minimum", "preset")}
    sub.done()
    return out if enabled else None


def _currency_options(p: Params, main: str) -> dict[str, Any] | None:
    raw = p.dict("currency_options")
    if raw is None:
        return None
    out: dict[str, Any] = {}
    for cur, opts in raw.items():
        if cur.lower() not in CURRENCIES or cur.lower() == main:
            raise invalid(f"Invalid currency_options currency: {cur}", f"currency_options[{cur}]")
        if not isinstance(opts, dict):
            raise invalid(f"Invalid object: currency_options[{cur}] must be a hash.",
                          f"currency_options[{cur}]")
        sub = Params(opts, f"currency_options[{cur}]")
        unit, dec = parse_amount(sub)
        tax = sub.str("tax_behavior", choices=TAX_BEHAVIORS, default="unspecified")
        sub.done()
        out[cur.lower()] = {"custom_unit_amount": None, "tax_behavior": tax, "unit_amount": unit,
                            "unit_amount_decimal": dec}
    return out


def build(em: Emulator, p: Params, product_id: str, *, restricted: bool = False) -> dict[str, Any]:
    """Validate price params into a new price (not stored). ``restricted`` is the narrower param set of
    ``default_price_data`` on product create."""
    currency = parse_currency(p)
    assert currency is not None
    scheme = "per_unit" if restricted else p.str("billing_scheme", choices=("per_unit", "tiered"),
                                                 default="per_unit")
    unit, dec = parse_amount(p)
    custom = _custom_unit_amount(p)
    recurring = _recurring(em, p)
    tiers, tiers_mode, transform = _tiering(p, scheme, dec) if not restricted else (None, None, None)
    if scheme == "per_unit" and dec is None and custom is None:
        raise invalid("Prices require an `unit_amount` or `unit_amount_decimal` parameter to be set.")
    if custom is not None and (dec is not None or recurring is not None):
        raise invalid("`custom_unit_amount` is only supported for one-time prices without `unit_amount`.",
                      "custom_unit_amount")
    tax = p.str("tax_behavior", choices=TAX_BEHAVIORS, default="unspecified")
    options = _currency_options(p, currency)
    price = {
        "id": new_id("price", 24), "object": "price", "active": True, "billing_scheme": scheme,
        "created": em.now(), "currency": currency, "custom_unit_amount": custom, "livemode": False,
        "lookup_key": None, "metadata": p.metadata({}) or {}, "nickname": None, "product": product_id,
        "recurring": recurring, "tax_behavior": tax, "tiers_mode": tiers_mode,
        "transform_quantity": transform,
        "type": "recurring" if recurring else "one_time", "unit_amount": unit, "unit_amount_decimal": dec,
    }
    if tiers is not None:
        price["tiers"] = tiers
    main = {"custom_unit_amount": custom, "tax_behavior": tax, "unit_amount": unit,
            "unit_amount_decimal": dec}
    price["currency_options"] = {currency: main, **(options or {})}
    return price


def _tiering(p: Params, scheme: str, dec: str | None) -> tuple[Any, Any, Any]:
    tiers_mode = p.str("tiers_mode", choices=("graduated", "volume"))
    transform = _transform(p)
    if scheme == "per_unit":
        if p.has("tiers") or tiers_mode is not None:
            raise invalid("`tiers` and `tiers_mode` can only be set when `billing_scheme` is `tiered`.",
                          "tiers" if p.has("tiers") else "tiers_mode")
        return None, None, transform
    if tiers_mode is None:
        raise StripeError("Missing required param: tiers_mode.", param="tiers_mode", code="parameter_missing")
    if dec is not None:
        raise invalid("`unit_amount` and `unit_amount_decimal` cannot be set when `billing_scheme` is "
                      "`tiered`; set amounts on each tier instead.", "unit_amount")
    if transform is not None:
        raise invalid("`transform_quantity` cannot be used with tiered pricing.", "transform_quantity")
    return _tiers(p), tiers_mode, None


