"""``Context``: what every service may use. The facade builds one per ``Billing``; no service sees ``Billing``.

A service receives the context and the named peer services it calls, nothing else, so the dependency
graph is written down in one place (``billingos/billing.py``) and a service can be built alone in a test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from .bus import EventBus
from .clock import Clock
from .config import BillingConfig
from .errors import BillingClosedError
from .tasks import TaskRunner

if TYPE_CHECKING:
    import stripe

    from .jobs import Jobs

__all__ = ["Context", "closed_error"]


class Context:
    """Settings, time, the database, Stripe, background work and domain events, shared by the services.

    ``session_factory`` and ``stripe`` raise BillingClosedError once ``close()`` was called: every
    service reaches the database and Stripe through them, so guarding these two stops all of billingos
    before anything is written anywhere."""

    def __init__(self, *, config: BillingConfig, clock: Clock, session_factory: sessionmaker[Session],
                 stripe_client: Callable[[], stripe.StripeClient], tasks: TaskRunner, events: EventBus) -> None:
        self.config = config
        self.clock = clock
        self.tasks = tasks
        self.events = events
        self._session_factory = session_factory
        self._stripe_client = stripe_client
        self._jobs: Jobs | None = None
        self.closed = False

    @property
    def session_factory(self) -> sessionmaker[Session]:
        if self.closed:
            raise closed_error()
        return self._session_factory

    @property
    def stripe(self) -> stripe.StripeClient:
        if self.closed:
            raise closed_error()
        return self._stripe_client()

    @property
    def dialect(self) -> str:
        """``postgresql``, ``sqlite``…: the database's dialect name (no connection needed)."""
        bind = self._session_factory.kw["bind"]
        return str(bind.dialect.name)

    @property
    def jobs(self) -> Jobs:
        if self._jobs is None:
            raise RuntimeError("Context.jobs is set by the facade before any service runs.")
        return self._jobs

    @jobs.setter
    def jobs(self, jobs: Jobs) -> None:
        self._jobs = jobs

    def now(self) -> datetime:
        return self.clock.now()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error; after-commit work then runs."""
        with self.session_factory() as session, session.begin():
            yield session


def closed_error() -> BillingClosedError:
    return BillingClosedError("This Billing is closed (billing.close() was called); build a new Billing to "
                              "use billingos again.")
