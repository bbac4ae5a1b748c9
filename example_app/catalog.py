"""The example's catalog: catalog.toml is synced at start-up, and the pricing page reads it back."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from billingos import Billing, Money
from billingos.catalog import CatalogSyncReport, PriceInfo, load_catalog
from billingos.money import CURRENCY_EXPONENTS

CATALOG_PATH = Path(__file__).with_name("catalog.toml")
_ADVERB = {"day": "daily", "week": "weekly", "month": "monthly", "year": "yearly"}


def sync_catalog(billing: Billing, path: str | Path) -> CatalogSyncReport:
    """Idempotent: a restart re-syncs the same file and changes nothing in Stripe."""
    return billing.catalog.sync(load_catalog(path))


@dataclass(frozen=True)
class PriceLine:
    lookup_key: str
    nickname: str | None
    amount: str       # "$29.00", "$0.002", or the tiers in words
    per: str          # "per month", "per unit used each month"


@dataclass(frozen=True)
class Plan:
    key: str
    name: str
    description: str | None
    prices: list[PriceLine]
    features: list[str]


def price_list(billing: Billing) -> list[Plan]:
    """Active products with their active prices and included features, in catalog order."""
    names = {f.key: f.name for f in billing.catalog.features()}
    plans = []
    for product in billing.catalog.products():
        key = product.key or product.id
        prices = [_price_line(p) for p in billing.catalog.prices(product.id)]
        features = [_feature_line(names.get(f.feature_key, f.feature_key), f.limit, f.unlimited, f.reset)
                    for f in billing.catalog.plan_features(product.id)]
        plans.append(Plan(key, product.name, product.description, prices, features))
    return plans


def _price_line(price: PriceInfo) -> PriceLine:
    period = _period(price.interval, price.interval_count)
    if price.tiers:  # only whole-cent tiers are declared in the example catalog
        amount = _tiers(price.tiers, price.currency, price.tiers_mode)
        per = period or "once"
    else:
        amount = _amount(price.unit_amount, price.unit_amount_decimal, price.currency)
        per = period or "once"
        if price.usage_type == "metered":
            per = f"per unit used, billed {_ADVERB.get(price.interval or '', period)}"
    return PriceLine(price.lookup_key or price.id, price.nickname, amount, per)


def _period(interval: str | None, count: int | None) -> str:
    if interval is None:
        return ""
    return f"per {interval}" if (count or 1) == 1 else f"every {count} {interval}s"


def _amount(unit_amount: int | None, unit_amount_decimal: Decimal | None, currency: str) -> str:
    if unit_amount is not None:
        return Money(unit_amount, currency).format()
    if unit_amount_decimal is None:
        return "custom"
    # Sub-cent prices: show every significant digit, never round a price down to $0.00.
    major = (unit_amount_decimal / (Decimal(10) ** CURRENCY_EXPONENTS[currency])).normalize()
    text = f"{major:f}"
    symbol = {"usd": "$", "eur": "€", "gbp": "£"}.get(currency)
    return f"{symbol}{text}" if symbol else f"{text} {currency.upper()}"


def _tiers(tiers: list[dict[str, Any]], currency: str, mode: str | None) -> str:
    parts, start = [], 1
    for tier in tiers:
        up_to = tier.get("up_to")
        span = f"{start}+" if up_to in (None, "inf") else f"{start}–{up_to}"
        costs = []
        if tier.get("flat_amount"):
            costs.append(f"{Money(tier['flat_amount'], currency).format()} flat")
        if tier.get("unit_amount"):
            costs.append(f"{Money(tier['unit_amount'], currency).format()} each")
        parts.append(f"{span}: {' + '.join(costs) or 'included'}")
        start = (up_to + 1) if isinstance(up_to, int) else start
    return ("volume tiers: " if mode == "volume" else "") + "; ".join(parts)


def _feature_line(name: str, limit: int | None, unlimited: bool, reset: str | None) -> str:
    if unlimited:
        return f"{name}: unlimited"
    if limit is None:
        return name
    every = {"billing_period": "per billing period", "never": "in total"}.get(reset or "", f"per {reset}")
    return f"{name}: {limit:,} {every}"
