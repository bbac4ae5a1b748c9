"""The facade: one ``Billing`` per app wires config, database, Stripe client, clock and services."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from . import validation
from .admin import AdminService
from .analytics.service import AnalyticsService
from .announce import announce_signals
from .api import JsonApi
from .api.operations import Services as ApiServices
from .api_keys import ApiKeyService
from .audit import AuditService
from .bus import EventBus
from .catalog.service import CatalogService
from .clock import Clock, SystemClock
from .config import BillingConfig, redact_url
from .context import Context, closed_error
from .customers.service import CustomerService
from .dunning import DunningService
from .entitlements import Check, EntitlementService
from .errors import ConfigurationError, InvalidInputError
from .insights import InsightService
from .invoices.service import InvoiceService
from .jobs import Jobs
from .notifications import NotificationService
from .payment_methods import PaymentMethodService
from .ratelimit import RequestLimits
from .reconcile import ReconcileService
from .refunds import RefundService
from .schema_guard import guard_schema
from .stripe_api import build_client
from .subscriptions.service import SubscriptionService
from .tasks import TaskRunner
from .usage.service import UsageService
from .webhooks.service import WebhookService

if TYPE_CHECKING:
    import stripe

    from .testing import TestKit

__all__ = ["Billing"]

_REVISION = re.compile(r"[A-Za-z0-9_+\-@]{1,64}")


class Billing:
    """Everything billingos does for one host app.

    ``Billing(BillingConfig(...))`` or ``Billing(database_url=..., stripe_emulator=True)``.
    ``close()`` (or ``with Billing(...) as billing:``) releases what it built; see docs/configuration.md.
    """

    def __init__(self, config: BillingConfig | None = None, /, **options: Any) -> None:
        if config is not None and options:
            raise ConfigurationError("Pass either a BillingConfig or keyword options, not both.")
        self.config = config if config is not None else BillingConfig.build(**options)
        self.clock: Clock = self.config.clock or _default_clock(self.config)
        self.engine, session_factory = _database(self.config)
        self._owns_engine = self.config.engine is None and self.config.session_factory is None
        guard_schema(self.engine)    # before migrate(), any call says to migrate instead of dumping SQL
        self.emulator = _emulator(self.config, self.clock)
        client = build_client(self.config, self.emulator)
        self.tasks = TaskRunner()
        self.events = EventBus()
        ctx = self._ctx = Context(config=self.config, clock=self.clock, session_factory=session_factory,
                                  stripe_client=lambda: client, tasks=self.tasks, events=self.events)
        # The dependency graph, in one place: each service gets the context and the peers it calls.
        self.jobs = ctx.jobs = Jobs(ctx)
        self.webhooks = WebhookService(ctx)
        self.catalog = CatalogService(ctx)
        self.customers = CustomerService(ctx)
        # Before entitlements: the ledger row of a sync is posted before grants read it (grace periods).
        self.analytics = AnalyticsService(ctx)
        self.invoices = InvoiceService(ctx, customers=self.customers)
        self.entitlements = EntitlementService(ctx, catalog=self.catalog)
        self.subscriptions = SubscriptionService(ctx, customers=self.customers, invoices=self.invoices,
                                                 catalog=self.catalog)
        self.usage = UsageService(ctx, entitlements=self.entitlements)
        self.payment_methods = PaymentMethodService(ctx, customers=self.customers)
        self.reconcile = ReconcileService(ctx, webhooks=self.webhooks)
        self.dunning = DunningService(ctx, invoices=self.invoices, subscriptions=self.subscriptions)
        self.notifications = NotificationService(ctx, entitlements=self.entitlements)
        self.api_keys = ApiKeyService(ctx)
        self.audit = AuditService(ctx)          # records sensitive operations from their domain events
        self.api = JsonApi(ctx, api_keys=self.api_keys, services=ApiServices(
            entitlements=self.entitlements, usage=self.usage, subscriptions=self.subscriptions,
            invoices=self.invoices, customers=self.customers))
        self.rate_limits = RequestLimits(self.config)   # the pages' POSTs and the webhook route
        self.insights = InsightService(ctx)
        self.refunds = RefundService(ctx, invoices=self.invoices, audit=self.audit)
        self.admin = AdminService(ctx, reconcile=self.reconcile)
        # Built-in syncing goes through the same public registries a host uses.
        for domain in (self.customers, self.catalog, self.subscriptions, self.invoices, self.entitlements,
                       self.payment_methods):
            for mirror in domain.mirrors():
                self.webhooks.mirror(mirror)
        for domain in (self.customers, self.subscriptions, self.invoices, self.payment_methods):
            self.reconcile.add(domain.reconciler())
        for importer in (self.subscriptions, self.invoices, self.payment_methods):   # customers.link()
            self.customers.add_importer(importer.import_customer)
        announce_signals(self.events, self)

    @property
    def session_factory(self) -> sessionmaker[Session]:
        """The ``sessionmaker`` billingos uses. BillingClosedError after ``close()``."""
        return self._ctx.session_factory

    @property
    def stripe(self) -> stripe.StripeClient:
        """The ``stripe.StripeClient`` billingos uses. BillingClosedError after ``close()``."""
        return self._ctx.stripe

    @property
    def closed(self) -> bool:
        return self._ctx.closed

    def close(self) -> None:
        """Release what this ``Billing`` built: the Redis connection and the invalidation listener thread,
        jobs held by the task runner, and the engine it made from ``database_url`` (an engine or
        sessionmaker the host passed in is left open). A second call does nothing.

        Afterwards calls that need the database or Stripe raise BillingClosedError; ``has_feature`` and
        ``check`` still never raise: they answer by each feature's failure policy."""
        if self._ctx.closed:
            return
        self._ctx.closed = True
        with ExitStack() as steps:   # callbacks run last-in first-out, and all run even if one fails
            if self._owns_engine:
                steps.callback(self._close_engine)
            steps.callback(self.entitlements.close)
            steps.callback(self.tasks.close)
            steps.callback(self.events.clear)

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
        if self._ctx.closed:   # a write: refused outright rather than answered like a database outage
            raise closed_error()
        return self.entitlements.consume(owner_id, key, amount, idempotency_key)

    def register_tasks(self, huey: Any) -> dict[str, Any]:
        """Run billingos's background jobs and periodic jobs on the host's huey instance."""
        if self._ctx.closed:
            raise closed_error()
        if not (callable(getattr(huey, "task", None)) and callable(getattr(huey, "periodic_task", None))):
            raise InvalidInputError(f"huey must be a huey.Huey instance (with task() and periodic_task()), got "
                                    f"{validation.echo(huey)}.", param="huey")
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
        if self._ctx.closed:   # a host engine would still connect
            raise closed_error()
        if not isinstance(revision, str) or not _REVISION.fullmatch(revision):
            raise InvalidInputError(f"revision must be 'head' or a billingos migration id, got "
                                    f"{validation.echo(revision)}.", param="revision")
        from alembic.util import CommandError

        from .migrations import upgrade
        try:
            upgrade(self.engine, revision)
        except CommandError as e:   # an unknown revision: nothing was run
            raise InvalidInputError(f"revision {revision!r} is not a billingos migration: {e}", param="revision") \
                from None

    def __repr__(self) -> str:
        stripe = "emulator" if self.emulator is not None else (self.config.stripe_api_base or "stripe")
        closed = " closed" if self._ctx.closed else ""
        return f"<Billing db={self.engine.url.render_as_string(hide_password=True)} stripe={stripe}{closed}>"


def _refuse_connect(*_: Any) -> None:
    raise closed_error()


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
        shown = redact_url(url)
        raise ConfigurationError(f"Cannot use database_url {shown!r}: {str(e).replace(url, shown)}") from None


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
