"""BillingConfig: every option billingos takes, validated once, keyword-only."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from .analytics.settings import AnalyticsSettings
from .clock import Clock
from .errors import ConfigurationError
from .money import validate_currency
from .ratelimit import ON_STORAGE_ERROR

__all__ = ["BillingConfig", "redact_url"]

EMULATOR_API_KEY = "sk_test_billingos_emulator"
MIN_SECRET_LENGTH = 16   # Stripe's whsec_ secrets are 38+; 16 characters is 96+ bits of a random secret
API_RATE_LIMITS = {"entitlements:read": "1200/minute", "usage:write": "1200/minute", "billing:read": "120/minute"}


_URL_PASSWORD = re.compile(r"(://[^/@:]*:)[^/@]*@")


def redact_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``: what logs and error messages may show."""
    return _URL_PASSWORD.sub(r"\1***@", url)


class BillingConfig(BaseModel):
    """Configuration for one ``Billing``. Give exactly one of ``database_url``, ``engine`` or
    ``session_factory``; they are the host's database. Options are keyword-only."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True, extra="forbid")

    database_url: str | None = None
    engine: Any = None                          #: a host ``sqlalchemy.Engine``
    session_factory: Any = None                 #: a host ``sessionmaker``; its bind is used
    stripe_api_key: str | None = None           #: required unless stripe_emulator (no placeholder key)
    stripe_emulator: bool = False               #: answer Stripe calls from ``billingos.emulator``
    emulator: Any = None                        #: an existing ``Emulator`` to share (implies stripe_emulator)
    emulator_state_path: str | None = None      #: persist the emulator's state to this JSON file
    stripe_api_base: str | None = None          #: any Stripe-compatible server, e.g. stripe-mock
    stripe_max_network_retries: int = Field(default=2, ge=0, le=10)
    webhook_secrets: list[str] = Field(default_factory=list)
    webhook_tolerance: int = 300                #: seconds; 0 is refused (it would disable the age check)
    redis_url: str | None = None
    clock: Any = None                           #: a ``billingos.clock.Clock``; defaults to the system clock
    default_currency: str = "usd"
    owner_metadata_key: str = "billingos_owner_id"   #: Stripe metadata key that carries the owner id
    #: reconcile refuses to remove more than this share of a kind's local objects in one run (force=True)
    reconcile_max_removal: float = Field(default=0.10, ge=0.0, le=1.0, allow_inf_nan=False)
    #: Dunning: retries on these days after an invoice's first failed payment (docs/dunning.md).
    dunning_retry_days: tuple[int, ...] = (3, 5, 10)
    #: Dunning: what happens when the last retry fails: ``cancel`` the subscription or leave it ``unpaid``.
    dunning_final_outcome: str = "cancel"
    mailer: Any = None                          #: a ``billingos.Mailer`` (``send(message)``); default: logs
    email_from: str | None = None               #: the From address of billingos's emails
    merchant_email: str | None = None           #: who receives the merchant's emails (churn-risk alerts)
    email_brand: str | None = None              #: the product name emails use ("Acme")
    portal_url: str | None = None               #: where emails send customers to update their card (absolute URL)
    #: The JSON API's rate limit per API key, by scope (``limits`` notation: "600/minute", "10/second;1000/hour")
    api_rate_limits: dict[str, str] = Field(default_factory=lambda: dict(API_RATE_LIMITS))
    #: Where the counters live: a ``limits`` storage URI; None means ``redis_url`` when set, else in memory
    api_rate_limit_storage: str | None = None
    #: While that storage (Redis) is down: "memory" (count per process), "closed" (503) or "open" (no limit)
    rate_limit_on_storage_error: str = "memory"
    #: The portal's POSTs per owner (``limits`` notation); None: no limit
    portal_rate_limit: str | None = "30/minute"
    #: The admin pages' POSTs per admin; None: no limit
    admin_rate_limit: str | None = "120/minute"
    #: The webhook route's requests per client address; None: no limit (Stripe retries a 429)
    webhook_rate_limit: str | None = "100/second"
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)   #: revenue definitions (a dict works)

    def __repr_args__(self) -> Any:
        # Secrets never reach a log through repr(): keys are shown by their prefix, URLs without a password.
        for name, value in super().__repr_args__():
            if name == "stripe_api_key" and isinstance(value, str):
                value = value[:8] + "…"
            elif name == "webhook_secrets":
                value = [s[:6] + "…" for s in value]
            elif name in ("database_url", "redis_url", "api_rate_limit_storage") and isinstance(value, str):
                value = redact_url(value)
            yield name, value

    @field_validator("webhook_tolerance")
    @classmethod
    def _tolerance(cls, v: int) -> int:
        if v <= 0:
            raise ValueError("webhook_tolerance must be a positive number of seconds; 0 would turn off the "
                             "replay protection. Stripe's default is 300.")
        return v

    @field_validator("webhook_secrets")
    @classmethod
    def _secrets(cls, v: list[str]) -> list[str]:
        for n, s in enumerate(v):
            if not isinstance(s, str):
                raise ValueError(f"webhook_secrets[{n}] must be a string, got {type(s).__name__}.")
            if s != s.strip() or not s.isascii() or not s.isprintable():
                raise ValueError(f"webhook_secrets[{n}] must be printable ASCII without surrounding spaces "
                                 "(copy it from the Stripe dashboard or `stripe listen`).")
            if len(s) < MIN_SECRET_LENGTH:
                raise ValueError(f"webhook_secrets[{n}] is {len(s)} characters; a signing secret must be at "
                                 f"least {MIN_SECRET_LENGTH} (a short one is guessable, and a signature "
                                 "made with it proves nothing).")
        return v

    @field_validator("dunning_retry_days")
    @classmethod
    def _retry_days(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        days = tuple(v)
        if not days or len(days) > 10 or any(isinstance(d, bool) or not 1 <= d <= 60 for d in days) \
                or list(days) != sorted(set(days)):
            raise ValueError("dunning_retry_days must be 1 to 10 increasing whole days from 1 to 60 after the first "
                             "failure, e.g. (3, 5, 10).")
        return days

    @field_validator("dunning_final_outcome")
    @classmethod
    def _final_outcome(cls, v: str) -> str:
        if v not in ("cancel", "unpaid"):
            raise ValueError("dunning_final_outcome must be 'cancel' or 'unpaid'.")
        return v

    @field_validator("mailer")
    @classmethod
    def _mailer(cls, v: Any) -> Any:
        if v is not None and not callable(getattr(v, "send", None)):
            raise ValueError("mailer must have a send(message) method (see billingos.Mailer).")
        return v

    @field_validator("email_from", "merchant_email")
    @classmethod
    def _address(cls, v: str | None) -> str | None:
        if v is not None and (not isinstance(v, str) or "@" not in v or len(v) > 254 or any(c in v for c in "\r\n")):
            raise ValueError("an email address (name@example.com) is required.")
        return v

    @field_validator("email_brand")
    @classmethod
    def _brand(cls, v: str | None) -> str | None:
        if v is not None and (not v.strip() or len(v) > 80 or any(c in v for c in "\r\n")):
            raise ValueError("email_brand must be a short one-line name (at most 80 characters).")
        return v

    @field_validator("portal_url")
    @classmethod
    def _portal_url(cls, v: str | None) -> str | None:
        bad = v is not None and (not v.startswith(("https://", "http://")) or len(v) > 2048
                                 or any(c in v for c in " \r\n"))
        if bad:
            raise ValueError("portal_url must be an absolute http(s) URL, e.g. https://app.example.com/billing/portal.")
        return v
    @field_validator("api_rate_limits")
    @classmethod
    def _rate_limits(cls, v: dict[str, str]) -> dict[str, str]:
        from limits import parse_many
        unknown = set(v) - set(API_RATE_LIMITS)
        if unknown:
            raise ValueError(f"api_rate_limits keys are scopes ({', '.join(API_RATE_LIMITS)}), got {sorted(unknown)}")
        for scope, text in v.items():
            try:
                parse_many(text)
            except ValueError:
                raise ValueError(f"api_rate_limits[{scope!r}] must read like '600/minute', got {text!r}") from None
        return {**API_RATE_LIMITS, **v}

    @field_validator("rate_limit_on_storage_error")
    @classmethod
    def _on_storage_error(cls, v: str) -> str:
        if v not in ON_STORAGE_ERROR:
            raise ValueError(f"rate_limit_on_storage_error must be 'memory', 'closed' or 'open', got {v!r:.40}.")
        return v

    @field_validator("portal_rate_limit", "admin_rate_limit", "webhook_rate_limit")
    @classmethod
    def _request_limit(cls, v: str | None, info: ValidationInfo) -> str | None:
        from limits import parse_many
        if v is None:
            return v
        try:
            if all(item.amount >= 1 for item in parse_many(v)):
                return v
        except ValueError:
            pass
        raise ValueError(f"{info.field_name} must read like '30/minute' (at least 1; None for no limit), got "
                         f"{v!r:.40}.")

    @field_validator("default_currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        return validate_currency(v, param="default_currency")

    @field_validator("clock")
    @classmethod
    def _clock(cls, v: Any) -> Any:
        if v is not None and not isinstance(v, Clock):
            raise ValueError("clock must have a now() method returning an aware datetime.")
        return v

    @model_validator(mode="after")
    def _check(self) -> BillingConfig:
        given = [n for n in ("database_url", "engine", "session_factory") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of database_url, engine or session_factory "
                             f"(got {', '.join(given) or 'none'}).")
        key = self.stripe_api_key
        if key is None:
            if not self.uses_emulator:
                raise ValueError("give stripe_api_key (sk_test_... or sk_live_...) or stripe_emulator=True; "
                                 "billingos never falls back to an empty emulator or a placeholder key.")
            key = EMULATOR_API_KEY
        if not isinstance(key, str) or not key.startswith(("sk_test_", "sk_live_", "rk_test_", "rk_live_")):
            raise ValueError("stripe_api_key must be a Stripe secret or restricted key (sk_test_..., sk_live_...).")
        if self.uses_emulator:
            if key.startswith(("sk_live_", "rk_live_")):
                raise ValueError("The Stripe emulator refuses live keys: use a test key (sk_test_...).")
            if self.stripe_api_base:
                raise ValueError("stripe_emulator and stripe_api_base are exclusive: pick one Stripe.")
        return self

    @property
    def uses_emulator(self) -> bool:
        return self.stripe_emulator or self.emulator is not None

    @property
    def api_key(self) -> str:
        """The key billingos sends: ``stripe_api_key``, or the emulator's test key when none is given."""
        return self.stripe_api_key or EMULATOR_API_KEY

    @property
    def livemode(self) -> bool:
        return self.api_key.startswith(("sk_live_", "rk_live_"))

    @classmethod
    def build(cls, **kw: Any) -> BillingConfig:
        """Like the constructor, but raises ConfigurationError (a BillingError) with pydantic's reasons."""
        from pydantic import ValidationError
        try:
            return cls(**kw)
        except ValidationError as e:
            reasons = "; ".join(f"{'.'.join(map(str, x['loc'])) or 'config'}: {x['msg']}" for x in e.errors())
            raise ConfigurationError(f"Invalid BillingConfig: {reasons}") from None
