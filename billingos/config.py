"""BillingConfig: every option billingos takes, validated once, keyword-only."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .analytics.settings import AnalyticsSettings
from .clock import Clock
from .errors import ConfigurationError
from .money import validate_currency

__all__ = ["BillingConfig"]

EMULATOR_API_KEY = "sk_test_billingos_emulator"
MIN_SECRET_LENGTH = 16   # Stripe's whsec_ secrets are 38+; 16 characters is 96+ bits of a random secret


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
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)   #: revenue definitions (a dict works)

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
