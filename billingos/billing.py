"""The facade: one ``Billing`` per app wires config, database, Stripe client, clock and services."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from .clock import Clock, SystemClock
from .config import BillingConfig
from .customers.service import CustomerService
from .entitlements import Check, EntitlementService
from .errors import BillingClosedError, ConfigurationError
from .invoices.service import InvoiceService
from .reconcile import ReconcileService
from .stripe_api import build_client
from .subscriptions.service import SubscriptionService
from .tasks import TaskRunner
from .usage.service import UsageService
from .webhooks.service import WebhookService

if TYPE_CHECKING:
    import stripe

    from .testing import TestKit

__all__ = ["Billing"]


class Billing:
    """Everything billingos does for one host app.

    ``Billing(BillingConfig(...))`` or ``Billing(database_url=..., stripe_emulator=True)``.
    ``close()`` (or ``with Billing(...) as billing:``) releases what it built; see docs/configuration.md.
    """

    def __init__(self, config: BillingConfig | None = None, /, **options: Any) -> None:
        if config is not None and options:
            raise ConfigurationError("Pass either a BillingConfig or keyword options, not both.")
        self._closed = False
        self.config = config if config is not None else BillingConfig.build(**options)
        self.clock: Clock = self.config.clock or _default_clock(self.config)
        self.engine, self._session_factory = _database(self.config)
        self._owns_engine = self.config.engine is None and self.config.session_factory is None
        self.emulator = _emulator(self.config, self.clock)
        self._stripe = build_client(self.config, self.emulator)
        self.tasks = TaskRunner()
        self.webhooks = WebhookService(self)
        self.customers = CustomerService(self)
        self.invoices = InvoiceService(self)
        self.entitlements = EntitlementService(self)
        self.subscriptions = SubscriptionService(self)
        self.reconcile = ReconcileService(self)
        self.usage = UsageService(self)
        from .catalog.service import CatalogService
        self.catalog = CatalogService(self)
        _register_builtin_handlers(self)

    # Every service reaches the database and Stripe through these two, so guarding them stops all of
    # billingos after close(), before anything is written anywhere.
    @property
    def session_factory(self) -> sessionmaker[Session]:
        """The ``sessionmaker`` billingos uses. BillingClosedError after ``close()``."""
        if self._closed:
            raise _closed()
        return self._session_factory

    @property
    def stripe(self) -> stripe.StripeClient:
        """The ``stripe.StripeClient`` billingos uses. BillingClosedError after ``close()``."""
        if self._closed:
            raise _closed()
        return self._stripe

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Release what this ``Billing`` built: the Redis connection and the invalidation listener thread,
        jobs held by the task runner, and the engine it made from ``database_url`` (an engine or
        sessionmaker the host passed in is left open). A second call does nothing.

        Afterwards calls that need the database or Stripe raise BillingClosedError; ``has_feature`` and
        ``check`` still never raise: they answer by each feature's failure policy."""
        if self._closed:
            return
        self._closed = True
        with ExitStack() as steps:   # callbacks run last-in first-out, and all run even if one fails
            if self._owns_engine:
                steps.callback(self._close_engine)
            steps.callback(self.entitlements.close)
            steps.callback(self.tasks.close)

    def _close_engine(self) -> None:
        # Refuse new connections first: dispose() alone leaves an engine that silently reconnects.
        event.listen(self.engine, "do_connect", _refuse_connect)
        self.engine.dispose()

    def __enter__(self) -> Billing:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def testing(self) -> TestKit:
        """The test kit (emulator only): ``connect()``, ``advance(days=31)``, ``drain()``."""
        kit = self.__dict__.get("_testing")
        if kit is None:
            from .testing import TestKit
            kit = self.__dict__["_testing"] = TestKit(self)
        return kit

    def has_feature(self, owner_id: str, key: str) -> bool:
        """``billing.entitlements.has_feature``: may the owner use feature ``key`` now? Never raises, not
        even after ``close()``: then it answers by the feature's failure policy."""
        return self.entitlements.has_feature(owner_id, key)

    def check(self, owner_id: str, key: str, amount: int = 1) -> Check:
        """``billing.entitlements.check``: Check(allowed, limit, used, remaining, resets_at, reason)."""
        return self.entitlements.check(owner_id, key, amount)

    def consume(self, owner_id: str, key: str, amount: int, idempotency_key: str) -> Check:
        """``billing.entitlements.consume``: check and record ``amount`` atomically (never overspends)."""
        if self._closed:   # a write: refused outright rather than answered like a database outage
            raise _closed()
        return self.entitlements.consume(owner_id, key, amount, idempotency_key)

    def register_tasks(self, huey: Any) -> dict[str, Any]:
        """Run billingos's background jobs and periodic jobs on the host's huey instance."""
        if self._closed:
            raise _closed()
        return self.tasks.register(huey)

    def now(self) -> datetime:
        return self.clock.now()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A billingos-owned session: commit on success, roll back on error, then after-commit hooks."""
        with self.session_factory() as session, session.begin():
            yield session

    def migrate(self, revision: str = "head") -> None:
        """Run billingos's alembic migrations (its own version table) on the configured database."""
        if self._closed:   # a host engine would still connect
            raise _closed()
        from .migrations import upgrade
        upgrade(self.engine, revision)

    def __repr__(self) -> str:
        stripe = "emulator" if self.emulator is not None else (self.config.stripe_api_base or "stripe")
        closed = " closed" if self._closed else ""
        return f"<Billing db={self.engine.url.render_as_string(hide_password=True)} stripe={stripe}{closed}>"


def _closed() -> BillingClosedError:
    return BillingClosedError("This Billing is closed (billing.close() was called); build a new Billing to "
                              "use billingos again.")


def _refuse_connect(*_: Any) -> None:
    raise _closed()


def _register_builtin_handlers(billing: Billing) -> None:
    """Built-in handlers use the same public subscribe() that hosts use."""
    from .catalog import webhooks as catalog_hooks
    from .customers import webhooks as customer_hooks
    from .customers.reconcile import customers_reconciler
    from .entitlements import webhooks as entitlement_hooks
    from .invoices import webhooks as invoice_hooks
    from .subscriptions import webhooks as subscription_hooks
    from .subscriptions.reconcile import invoices_reconciler, subscriptions_reconciler
    customer_hooks.register(billing)
    catalog_hooks.register(billing)
    subscription_hooks.register(billing)
    invoice_hooks.register(billing)
    entitlement_hooks.register(billing)
    billing.reconcile.add(customers_reconciler(billing))
    billing.reconcile.add(subscriptions_reconciler(billing))
    billing.reconcile.add(invoices_reconciler(billing))


def _default_clock(config: BillingConfig) -> Clock:
    emulator = config.emulator
    return emulator.clock if emulator is not None else SystemClock()


def _database(config: BillingConfig) -> tuple[Engine, sessionmaker[Session]]:
    if config.session_factory is not None:
        factory = config.session_factory
        bind = factory.kw.get("bind")
        if bind is None:
            raise ConfigurationError("session_factory must be bound to an engine (sessionmaker(bind=engine)).")
        return bind, factory
    engine = config.engine
    if engine is None:
        engine = _make_engine(config.database_url or "")
    return engine, sessionmaker(bind=engine, expire_on_commit=False)


def _make_engine(url: str) -> Engine:
    try:
        if url.startswith("sqlite"):
            memory = url.rstrip("/").endswith(("sqlite:", ":memory:")) or url in ("sqlite://", "sqlite:///")
            extra: dict[str, Any] = {"poolclass": StaticPool} if memory else {}  # one shared in-memory DB
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **extra)
            _sqlite_pragmas(engine)
            return engine
        return create_engine(url, pool_pre_ping=True)
    except Exception as e:  # an unparseable URL or a missing driver
        raise ConfigurationError(f"Cannot use database_url {url!r}: {e}") from e


def _sqlite_pragmas(engine: Engine) -> None:
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")   # durable in WAL mode; FULL only adds an fsync per commit
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()


def _emulator(config: BillingConfig, clock: Clock) -> Any:
    if config.emulator is not None:
        return config.emulator
    if not config.stripe_emulator:
        return None
    from .emulator import Emulator
    try:
        return Emulator(clock=clock, state_path=config.emulator_state_path)
    except (OSError, ValueError) as e:     # an unreadable or foreign state file
        raise ConfigurationError(f"Cannot use emulator_state_path: {e}") from None
