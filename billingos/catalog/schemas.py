"""The catalog as declared in code or in a file: products, prices, features and meters.

Every type is a frozen pydantic model that refuses unknown keys. Building one with bad input raises
``InvalidInputError`` whose message names the offending product, price, feature or meter.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import threading
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ..errors import InvalidInputError
from ..money import CURRENCY_EXPONENTS
from .checks import (
    Int,
    OptAmount,
    OptInt,
    _check_amount,
    _check_decimal,
    _check_metadata,
    _limit,
    _unique,
    _up_to,
)
from .messages import describe, first_param

__all__ = [
    "LIMIT_PREFIX",
    "MAX_INTERVAL",
    "Catalog",
    "Feature",
    "Meter",
    "PlanFeature",
    "Price",
    "Product",
    "Tier",
    "TransformQuantity",
    "product_stripe_id",
]

# Stripe caps a recurring period at three years (3 years, 36 months, 156 weeks; days likewise).
MAX_INTERVAL = {"day": 1095, "week": 156, "month": 36, "year": 3}
LIMIT_PREFIX = "billingos_limit."  # product metadata key prefix for per-plan feature limits
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]*")
_EVENT_NAME = re.compile(r"[A-Za-z0-9_\-.:]+")

Interval = Literal["day", "week", "month", "year"]
Reset = Literal["billing_period", "day", "week", "month", "year", "never"]


class _Nesting(threading.local):
    depth = 0


_nesting = _Nesting()


class _Declaration(BaseModel):
    """Frozen, no unknown keys, and InvalidInputError (not pydantic's ValidationError) on bad input."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, **data: Any) -> None:
        if _nesting.depth:  # validated inside a parent: let the parent describe the error with its path
            super().__init__(**data)
            return
        _nesting.depth += 1
        try:
            super().__init__(**data)
        except ValidationError as e:
            raise InvalidInputError(describe(e, self._label(data), data), param=first_param(e)) from None
        finally:
            _nesting.depth -= 1

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as e:
            data = obj if isinstance(obj, dict) else {}
            raise InvalidInputError(describe(e, cls._label(data), data), param=first_param(e)) from None

    @classmethod
    def _label(cls, data: dict[str, Any]) -> str:
        return cls.__name__.lower()


class Tier(_Declaration):
    """One tier of a tiered price. The last tier has ``up_to="inf"``."""

    up_to: Annotated[int | Literal["inf"], BeforeValidator(_up_to)]
    unit_amount: OptInt = None
    unit_amount_decimal: OptAmount = None
    flat_amount: OptInt = None
    flat_amount_decimal: OptAmount = None

    @model_validator(mode="after")
    def _check(self) -> Tier:
        if isinstance(self.up_to, int) and self.up_to < 1:
            raise ValueError(f"up_to must be >= 1, got {self.up_to}")
        for name in ("unit_amount", "flat_amount"):
            if getattr(self, name) is not None and getattr(self, f"{name}_decimal") is not None:
                raise ValueError(f"give {name} or {name}_decimal, not both")
            _check_amount(getattr(self, name), name)
            _check_decimal(getattr(self, f"{name}_decimal"), f"{name}_decimal")
        if all(
            getattr(self, n) is None
            for n in ("unit_amount", "unit_amount_decimal", "flat_amount", "flat_amount_decimal")
        ):
            raise ValueError("a tier needs a unit_amount(_decimal) or a flat_amount(_decimal)")
        return self


class TransformQuantity(_Declaration):
    """Package pricing: bill per ``divide_by`` units, rounding ``up`` or ``down``."""

    divide_by: Int
    round: Literal["up", "down"] = "up"

    @field_validator("divide_by")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"divide_by must be >= 1, got {v}")
        return v


class Price(_Declaration):
    """A price, identified by its ``lookup_key``. Recurring when ``interval`` is set, else one-time."""

    lookup_key: str = Field(min_length=1, max_length=200)
    currency: str
    unit_amount: OptInt = None
    unit_amount_decimal: OptAmount = None
    tiers: tuple[Tier, ...] | None = None
    tiers_mode: Literal["graduated", "volume"] | None = None
    transform_quantity: TransformQuantity | None = None
    interval: Interval | None = None
    interval_count: Int = 1
    usage_type: Literal["licensed", "metered"] = "licensed"
    meter: str | None = None
    trial_period_days: OptInt = None
    nickname: str | None = Field(default=None, max_length=250)
    active: bool = True
    metadata: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def _label(cls, data: dict[str, Any]) -> str:
        return f"price {data.get('lookup_key')!r}"

    @field_validator("lookup_key")
    @classmethod
    def _lookup_key(cls, v: str) -> str:
        if not _KEY.fullmatch(v):
            raise ValueError(f"lookup_key {v!r} must be letters, digits, '_', '-', '.' or ':'")
        return v

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        if v.lower() not in CURRENCY_EXPONENTS:
            raise ValueError(f"unknown currency {v!r}: use a three-letter ISO 4217 code such as 'usd'")
        return v.lower()

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, v: dict[str, str]) -> dict[str, str]:
        return _check_metadata(v)

    @model_validator(mode="after")
    def _check(self) -> Price:
        amounts = [n for n in ("unit_amount", "unit_amount_decimal", "tiers") if getattr(self, n) is not None]
        if len(amounts) != 1:
            raise ValueError(
                "give exactly one of unit_amount, unit_amount_decimal or tiers"
                + (f" (got {', '.join(amounts)})" if amounts else "")
            )
        _check_amount(self.unit_amount, "unit_amount")
        _check_decimal(self.unit_amount_decimal, "unit_amount_decimal")
        if self.tiers is not None:
            self._check_tiers()
        elif self.tiers_mode is not None:
            raise ValueError("tiers_mode is only for tiered prices (give tiers too)")
        self._check_recurring()
        return self

    def _check_tiers(self) -> None:
        assert self.tiers is not None
        if self.tiers_mode is None:
            raise ValueError("tiered prices need tiers_mode 'graduated' or 'volume'")
        if self.transform_quantity is not None:
            raise ValueError("transform_quantity cannot be combined with tiers")
        if not self.tiers:
            raise ValueError("tiers must not be empty")
        if self.tiers[-1].up_to != "inf":
            raise ValueError("the last tier must have up_to = 'inf'")
        bounds = [t.up_to for t in self.tiers[:-1]]
        if "inf" in bounds:
            raise ValueError("only the last tier may have up_to = 'inf'")
        if any(a >= b for a, b in itertools.pairwise(bounds)):  # type: ignore[operator]
            raise ValueError(f"tier bounds must increase strictly, got {bounds}")

    def _check_recurring(self) -> None:
        if self.interval is None:
            for name, default in (
                ("usage_type", "licensed"),
                ("interval_count", 1),
                ("trial_period_days", None),
                ("meter", None),
            ):
                if getattr(self, name) != default:
                    raise ValueError(
                        f"{name} needs a recurring price: set interval (day, week, month or year)"
                    )
            return
        top = MAX_INTERVAL[self.interval]
        if not 1 <= self.interval_count <= top:
            raise ValueError(
                f"interval_count must be 1-{top} for interval {self.interval!r} (Stripe allows at most "
                f"3 years between bills), got {self.interval_count}"
            )
        if self.usage_type == "metered" and self.meter is None:
            raise ValueError("metered prices need a meter (the event_name of a declared meter)")
        if self.usage_type == "licensed" and self.meter is not None:
            raise ValueError("meter is only for usage_type = 'metered'")
        if self.trial_period_days is not None and not 1 <= self.trial_period_days <= 730:
            raise ValueError(f"trial_period_days must be 1-730, got {self.trial_period_days}")

    @property
    def recurring(self) -> bool:
        return self.interval is not None


class PlanFeature(_Declaration):
    """A feature included in a product (plan), with a limit when the feature is metered."""

    key: str
    limit: Annotated[int | Literal["unlimited"] | None, BeforeValidator(_limit)] = None
    reset: Reset = "billing_period"
    rollover: bool = False

    @classmethod
    def _label(cls, data: dict[str, Any]) -> str:
        return f"plan feature {data.get('key')!r}"

    @model_validator(mode="after")
    def _check(self) -> PlanFeature:
        if isinstance(self.limit, int) and self.limit < 0:
            raise ValueError(f"limit must not be negative, got {self.limit}")
        if self.rollover and self.reset == "never":
            raise ValueError("rollover needs a reset period (reset = 'never' has nothing to roll over)")
        return self

    def metadata_value(self) -> str:
        """The product-metadata encoding: ``10000/month``, ``10000/month/rollover``, ``unlimited/month``."""
        return f"{self.limit}/{self.reset}" + ("/rollover" if self.rollover else "")

    @classmethod
    def from_metadata(cls, key: str, value: str) -> PlanFeature | None:
        parts = value.split("/")
        try:
            limit: Any = "unlimited" if parts[0] == "unlimited" else int(parts[0])
            return cls.model_validate(
                {
                    "key": key,
                    "limit": limit,
                    "reset": parts[1] if len(parts) > 1 else "billing_period",
                    "rollover": len(parts) > 2 and parts[2] == "rollover",
                }
            )
        except (ValueError, InvalidInputError):
            return None


class Product(_Declaration):
    """A product (a plan), identified by ``key``; in Stripe its id is derived from the key."""

    key: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=250)
    description: str | None = Field(default=None, max_length=5000)
    metadata: dict[str, str] = Field(default_factory=dict)
    features: tuple[PlanFeature, ...] = ()
    prices: tuple[Price, ...] = ()
    active: bool = True
    stripe_id: str | None = Field(default=None, max_length=255)

    @classmethod
    def _label(cls, data: dict[str, Any]) -> str:
        return f"product {data.get('key')!r}"

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        if not _KEY.fullmatch(v):
            raise ValueError(f"key {v!r} must be letters, digits, '_', '-', '.' or ':'")
        return v

    @field_validator("features", mode="before")
    @classmethod
    def _features(cls, v: Any) -> Any:
        if isinstance(v, list | tuple):
            return [{"key": f} if isinstance(f, str) else f for f in v]
        return v

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, v: dict[str, str]) -> dict[str, str]:
        for k in v:
            if k.startswith("billingos_"):
                raise ValueError(f"metadata key {k!r}: keys starting with 'billingos_' are reserved")
        return _check_metadata(v, room=10)

    @field_validator("stripe_id")
    @classmethod
    def _stripe_id(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Za-z0-9_\-]+", v):
            raise ValueError(f"stripe_id {v!r} must be letters, digits, '_' or '-'")
        return v

    @model_validator(mode="after")
    def _check(self) -> Product:
        keys = [f.key for f in self.features]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"feature {dupes[0]!r} is listed twice")
        return self

    @property
    def id(self) -> str:
        """The Stripe product id: ``stripe_id`` when given, else derived from ``key``."""
        return self.stripe_id or product_stripe_id(self.key)


class Feature(_Declaration):
    """An entitlement feature. ``key`` is the Stripe entitlement feature's ``lookup_key``."""

    key: str = Field(min_length=1, max_length=80)
    name: str = Field(min_length=1, max_length=80)
    type: Literal["boolean", "metered"] = "boolean"
    meter: str | None = None
    description: str | None = Field(default=None, max_length=500)
    metadata: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def _label(cls, data: dict[str, Any]) -> str:
        return f"feature {data.get('key')!r}"

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        if not _KEY.fullmatch(v):
            raise ValueError(f"key {v!r} must be letters, digits, '_', '-', '.' or ':'")
        return v

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, v: dict[str, str]) -> dict[str, str]:
        for k in v:
            if k.startswith("billingos_"):
                raise ValueError(f"metadata key {k!r}: keys starting with 'billingos_' are reserved")
        return _check_metadata(v, room=5)

    @model_validator(mode="after")
    def _check(self) -> Feature:
        if self.type == "metered" and len(LIMIT_PREFIX + self.key) > 40:
            raise ValueError(
                f"metered feature keys are at most {40 - len(LIMIT_PREFIX)} characters: per-plan "
                f"limits live in product metadata as '{LIMIT_PREFIX}<key>' (40 characters at most)"
            )
        if self.type == "boolean" and self.meter is not None:
            raise ValueError("meter is only for metered features")
        return self


class Meter(_Declaration):
    """A Stripe billing meter, identified by ``event_name``."""

    event_name: str = Field(min_length=1, max_length=100)
    display_name: str = Field(min_length=1, max_length=250)
    aggregation: Literal["sum", "count", "last"] = "sum"
    customer_payload_key: str = Field(default="stripe_customer_id", min_length=1, max_length=100)
    value_payload_key: str = Field(default="value", min_length=1, max_length=100)

    @classmethod
    def _label(cls, data: dict[str, Any]) -> str:
        return f"meter {data.get('event_name')!r}"

    @field_validator("event_name")
    @classmethod
    def _event_name(cls, v: str) -> str:
        if not _EVENT_NAME.fullmatch(v):
            raise ValueError(f"event_name {v!r} must be letters, digits, '_', '-', '.' or ':'")
        return v


class Catalog(_Declaration):
    """Everything billingos pushes to Stripe with ``billing.catalog.sync(catalog)``."""

    products: tuple[Product, ...] = ()
    features: tuple[Feature, ...] = ()
    meters: tuple[Meter, ...] = ()

    @classmethod
    def _label(cls, data: dict[str, Any]) -> str:
        return "catalog"

    @classmethod
    def from_file(cls, path: Any) -> Catalog:
        """Load a catalog from a .toml, .yaml or .yml file (see ``load_catalog``)."""
        from .loader import load_catalog

        return load_catalog(path)

    @model_validator(mode="after")
    def _check(self) -> Catalog:
        _unique("product", [p.key for p in self.products])
        _unique("product stripe_id", [p.id for p in self.products])
        _unique("price lookup_key", [pr.lookup_key for p in self.products for pr in p.prices])
        _unique("feature", [f.key for f in self.features])
        _unique("meter event_name", [m.event_name for m in self.meters])
        meters = {m.event_name for m in self.meters}
        features = {f.key: f for f in self.features}
        for f in self.features:
            if f.meter is not None and f.meter not in meters:
                raise ValueError(f"feature {f.key!r}: meter {f.meter!r} is not declared in meters")
        for p in self.products:
            for pr in p.prices:
                if pr.meter is not None and pr.meter not in meters:
                    raise ValueError(
                        f"product {p.key!r} → price {pr.lookup_key!r}: meter {pr.meter!r} is not "
                        "declared in meters"
                    )
            for pf in p.features:
                self._check_plan_feature(p, pf, features)
        return self

    @staticmethod
    def _check_plan_feature(p: Product, pf: PlanFeature, features: dict[str, Feature]) -> None:
        feature = features.get(pf.key)
        where = f"product {p.key!r} → feature {pf.key!r}"
        if feature is None:
            raise ValueError(f"{where}: the feature is not declared in features")
        if feature.type == "metered" and pf.limit is None:
            raise ValueError(
                f"{where}: a metered feature needs a limit on every plan that includes it "
                "(a number or 'unlimited')"
            )
        if feature.type == "boolean" and (
            pf.limit is not None or pf.rollover or pf.reset != "billing_period"
        ):
            raise ValueError(f"{where}: a boolean feature takes no limit, reset or rollover")

    def product(self, key: str) -> Product:
        for p in self.products:
            if p.key == key:
                return p
        raise KeyError(key)

    def prices(self) -> list[tuple[Product, Price]]:
        return [(p, pr) for p in self.products for pr in p.prices]


def product_stripe_id(key: str) -> str:
    """A deterministic, always-valid Stripe product id for a catalog key: ``prod_<slug>_<hash>``."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", key).strip("_")[:40] or "product"
    return f"prod_{slug}_{hashlib.sha256(key.encode()).hexdigest()[:8]}"
