"""Linkshelf, the product: accounts, short links and the metered links API, written once and used by both
the Flask app (``example_app.app``) and the FastAPI app (``example_app.fastapi_app``).

Everything here is host code, the kind a SaaS team writes itself: its own users and links in its own
tables, and billingos called where billing matters (a customer and a trial at sign-up, a feature check
before a custom short name, one unit of quota and one metered event per API call).
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
import secrets
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker
from werkzeug.security import check_password_hash, generate_password_hash

from billingos import Billing, BillingError, signals
from billingos.notifications import EmailMessage

from .models import Link, User

__all__ = ["DEMO_PASSWORD", "ApiQuota", "Linkshelf", "ProductError", "SignedUp", "connect_signals"]

log = logging.getLogger("example_app")

TRIAL_PRICE = "pro_monthly"      # sign-up starts a trial on Pro ...
TRIAL_DAYS = 14                  # ... for 14 days, no card needed
FEATURES = {"custom_slugs": "Custom short names", "export": "CSV export", "sso": "Single sign-on (SAML)",
            "priority_support": "Priority support"}
MAX_LINKS_SHOWN = 500
#: The seeded customers' password while Stripe is the emulator (demo mode only; shown on the home page).
DEMO_PASSWORD = "linkshelf-demo"
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(\.[A-Za-z0-9\-]{1,63})+")
_SLUG = re.compile(r"[a-z0-9][a-z0-9\-]{1,38}[a-z0-9]")
_TOKEN = re.compile(r"lsk_[A-Za-z0-9_\-]{43}")


class ProductError(Exception):
    """A refusal the visitor can act on: ``status`` (400, 401, 403, 404, 409, 429) and a clear message."""

    def __init__(self, message: str, *, status: int = 400, field: str | None = None,
                 retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message, self.status, self.field, self.retry_after = message, status, field, retry_after

    def to_problem(self) -> dict[str, Any]:
        """An RFC 9457 problem document, the shape billingos's own API answers with."""
        doc: dict[str, Any] = {"type": f"https://linkshelf.example/errors/http-{self.status}",
                               "title": "Request refused", "status": self.status, "detail": self.message}
        if self.field:
            doc["field"] = self.field
        return doc


@dataclass(frozen=True)
class SignedUp:
    user: User
    trial_error: str | None       # the account exists; only the trial failed (shown to the visitor)


@dataclass(frozen=True)
class ApiQuota:
    limit: int | None
    used: int
    remaining: int | None


class Linkshelf:
    """The product's service. ``sessions`` is the app's own sessionmaker; ``billing`` is billingos."""

    def __init__(self, sessions: sessionmaker, billing: Billing) -> None:
        self.sessions = sessions
        self.billing = billing

    # --- accounts ---------------------------------------------------------------------------------
    def sign_up(self, *, email: Any, password: Any, name: Any) -> SignedUp:
        """A user row, then the billing customer and a 14-day Pro trial. If the customer cannot be made,
        the row goes again and nothing is left behind; if only the trial fails, the account stays."""
        email, name = _email(email), _text(name, "name", 80, required=True)
        password = _password(password)
        with self.sessions() as db:
            if db.scalars(select(User).where(func.lower(User.email) == email.lower())).first() is not None:
                raise ProductError("That email is already registered. Log in instead.", status=409, field="email")
            user = User(email=email, name=name, password_hash=generate_password_hash(password))
            db.add(user)
            try:
                db.commit()
            except IntegrityError:      # lost a race with a concurrent sign-up
                raise ProductError("That email is already registered. Log in instead.", status=409,
                                   field="email") from None
            try:
                self.billing.customers.create(owner_id=user.owner_id, email=user.email, name=user.name)
            except BillingError as err:
                db.delete(user)
                db.commit()
                raise ProductError(f"Billing could not set up your account: {err.message}", status=503) from err
        return SignedUp(user, self._start_trial(user.owner_id))

    def _start_trial(self, owner_id: str) -> str | None:
        try:
            self.billing.subscriptions.create(owner_id, price=TRIAL_PRICE, trial_days=TRIAL_DAYS)
        except BillingError as err:     # the account stays; the portal's plan page offers plans again
            log.warning("linkshelf: the trial for %s did not start: %s", owner_id, err.message)
            return (f"Your account is ready, but the trial could not start: {err.message} "
                    "Choose a plan on the billing page.")
        return None

    def authenticate(self, email: Any, password: Any) -> User:
        """The user with this email and password. One message for both mistakes (no account probing)."""
        wrong = ProductError("Wrong email or password.", status=401)
        if not isinstance(email, str) or not isinstance(password, str) or len(email) > 254 or len(password) > 200:
            raise wrong
        with self.sessions() as db:
            user = db.scalars(select(User).where(func.lower(User.email) == email.strip().lower())).first()
        if user is None or user.password_hash is None or not check_password_hash(user.password_hash, password):
            raise wrong
        if password == DEMO_PASSWORD and self.billing.emulator is None:
            raise wrong          # a demo database pointed at real Stripe: the public demo password is not one
        return user

    def user(self, user_id: Any) -> User | None:
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            return None
        with self.sessions() as db:
            return db.get(User, user_id)

    def new_api_token(self, user: User) -> str:
        """A new Linkshelf API token for ``user`` (the old one stops working). Shown once; only its hash is kept."""
        token = "lsk_" + secrets.token_urlsafe(32)
        with self.sessions() as db, db.begin():
            db.execute(update(User).where(User.id == user.id).values(api_token_hash=_sha256(token)))
        return token

    def user_for_token(self, header: str | None) -> User:
        """The user of an ``Authorization: Bearer lsk_...`` header."""
        token = (header or "").removeprefix("Bearer ").strip()
        if not _TOKEN.fullmatch(token):
            raise ProductError("Send your Linkshelf API token: 'Authorization: Bearer lsk_...'.", status=401)
        with self.sessions() as db:
            user = db.scalars(select(User).where(User.api_token_hash == _sha256(token))).first()
        if user is None:
            raise ProductError("That API token is not valid (it may have been replaced).", status=401)
        return user

    # --- links ------------------------------------------------------------------------------------
    def add_link(self, user: User, *, url: Any, title: Any = None, note: Any = None, slug: Any = None,
                 metered: Any = False) -> Link:
        """A short link. A chosen short name needs the ``custom_slugs`` feature (Pro and Team).
        ``metered``: an API call (an idempotency key, or None for a new one) spent once the input is valid."""
        url = _url(url)
        title = _text(title, "title", 200) or urlsplit(url).hostname or url
        note = _text(note, "note", 2000, multiline=True) or ""
        if slug not in (None, ""):
            if not isinstance(slug, str) or not _SLUG.fullmatch(slug):
                raise ProductError("A short name is 3 to 40 lowercase letters, digits or dashes.", field="slug")
            if not self.billing.has_feature(user.owner_id, "custom_slugs"):
                raise ProductError("Custom short names are part of Pro and Team. Upgrade to choose one.",
                                   status=403, field="slug")
        if metered is not False:
            self.api_call(user, metered)
        for _ in range(5):
            link = Link(user_id=user.id, url=url, title=title, note=note, slug=slug or secrets.token_urlsafe(5).lower())
            with self.sessions() as db:
                db.add(link)
                try:
                    db.commit()
                    return link
                except IntegrityError:
                    db.rollback()
                    if slug:
                        raise ProductError("That short name is taken. Choose another.", status=409,
                                           field="slug") from None
        raise ProductError("Could not pick a free short name. Try again.", status=503)

    def links(self, user: User, *, limit: int = MAX_LINKS_SHOWN) -> list[Link]:
        with self.sessions() as db:
            return list(db.scalars(select(Link).where(Link.user_id == user.id)
                                   .order_by(Link.created_at.desc(), Link.id.desc()).limit(limit)))

    def delete_link(self, user: User, link_id: Any) -> None:
        """Another user's link is "not found", exactly like a missing one."""
        if not isinstance(link_id, int) or isinstance(link_id, bool) or not 0 < link_id < 2**63:
            raise ProductError("No such link.", status=404)
        with self.sessions() as db, db.begin():
            link = db.get(Link, link_id)
            if link is None or link.user_id != user.id:
                raise ProductError("No such link.", status=404)
            db.delete(link)

    def follow(self, slug: Any) -> str:
        """The target of a short link, counting the click."""
        if not isinstance(slug, str) or len(slug) > 40:
            raise ProductError("No such short link.", status=404)
        with self.sessions() as db, db.begin():
            link = db.scalars(select(Link).where(Link.slug == slug)).first()
            if link is None:
                raise ProductError("No such short link.", status=404)
            link.clicks += 1
            return link.url

    def export_csv(self, user: User) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["short_name", "url", "title", "note", "clicks", "created_at"])
        for link in self.links(user, limit=100_000):
            writer.writerow([link.slug, link.url, _cell(link.title), _cell(link.note), link.clicks,
                             link.created_at.isoformat()])
        return out.getvalue()

    # --- the metered API --------------------------------------------------------------------------
    def api_call(self, user: User, idempotency_key: Any = None) -> ApiQuota:
        """Spend one unit of the plan's ``api_calls`` quota (atomic, never overspent: a 429 once it is gone)
        and meter the call for Stripe (``billing.usage.track``). A retried request with the same
        ``Idempotency-Key`` is counted once."""
        if idempotency_key is None:
            key = "req_" + secrets.token_hex(16)
        elif isinstance(idempotency_key, str) and 0 < len(idempotency_key) <= 200 and idempotency_key.isprintable():
            key = f"{user.owner_id}:{idempotency_key}"
        else:
            raise ProductError("Idempotency-Key must be 1 to 200 printable characters.", field="Idempotency-Key")
        quota = self.billing.consume(user.owner_id, "api_calls", 1, idempotency_key=key)
        if not quota.allowed:
            retry = None
            if quota.resets_at is not None:
                retry = max(1, int((quota.resets_at - self.billing.now()).total_seconds()))
            raise ProductError(f"Your plan's API quota is used up ({quota.used:,} of {quota.limit:,} calls). "
                               "Upgrade or wait for the next period.", status=429, retry_after=retry)
        self.billing.usage.track(user.owner_id, "api_calls", 1, idempotency_key=key)
        return ApiQuota(quota.limit, quota.used or 0, quota.remaining)

    # --- what the dashboard shows -----------------------------------------------------------------
    def overview(self, user: User) -> dict[str, Any]:
        from .plans import current_subscription, plan_name
        sub = current_subscription(self.billing, user.owner_id)
        return {"subscription": sub, "plan": plan_name(self.billing, sub) if sub else None,
                "features": {key: (name, self.billing.has_feature(user.owner_id, key))
                             for key, name in FEATURES.items()},
                "api_calls": self.billing.check(user.owner_id, "api_calls", 0),
                "api_usage": self.billing.usage.total(user.owner_id, "api_calls")}

    # --- the demo's seeded customers ----------------------------------------------------------------
    def adopt_owners(self, owners: Iterable[Any]) -> int:
        """Linkshelf users for billing customers made elsewhere (the demo's seeded history): one row per
        owner id not yet known, without a password. Returns how many rows were added."""
        added = 0
        with self.sessions() as db, db.begin():
            known = set(db.scalars(select(User.owner_id)))
            emails = {e.lower() for e in db.scalars(select(User.email))}
            for owner in owners:
                if owner.owner_id in known or owner.email.lower() in emails:
                    continue
                db.add(User(owner_id=owner.owner_id, email=owner.email, name=(owner.name or owner.email)[:80]))
                known.add(owner.owner_id)
                emails.add(owner.email.lower())
                added += 1
        return added

    def set_demo_password(self, password: str = DEMO_PASSWORD) -> int:
        """Let every customer without a password (the demo's seeded ones) log in with ``password``, hashed
        with werkzeug like a real user's. Demo mode only (Stripe is the emulator). Returns the rows changed."""
        if self.billing.emulator is None:
            raise ProductError("The demo password exists only while Stripe is the emulator.", status=409)
        # One hash for all of them: werkzeug's scrypt costs ~50 ms a call and 1,500 calls would dominate
        # the seed. They share one salt, which is acceptable for a public demo password only.
        password_hash = generate_password_hash(_password(password))
        with self.sessions() as db, db.begin():
            result = db.execute(update(User).where(User.password_hash.is_(None), User.is_admin.is_(False))
                                .values(password_hash=password_hash))
        return int(getattr(result, "rowcount", 0) or 0)

    def admin_user(self, email: str = "admin@linkshelf.example") -> User:
        """The demo's admin (no password: reached by the home page's demo button only)."""
        with self.sessions() as db, db.begin():
            user = db.scalars(select(User).where(User.email == email)).first()
            if user is None:
                user = User(email=email, name="Demo admin", is_admin=True)
                db.add(user)
                db.flush()
            return user

    def demo_customer(self) -> User | None:
        """A seeded customer worth showing: paying (active), preferably on Pro monthly (the portal then
        offers an upgrade), with invoices; else any active one. Seeded users have the demo password (or,
        seeded before it existed, none); a visitor who signed up is never picked."""
        with self.sessions() as db:
            users = list(db.scalars(select(User).where(User.is_admin.is_(False)).order_by(User.id).limit(300)))
        # The seeded users share one hash (set_demo_password): the most common one, verified once (a check
        # costs as much as a hash); a signed-up visitor's hash has its own salt and is never that one.
        shared = Counter(u.password_hash for u in users if u.password_hash is not None).most_common(1)
        demo_hash = shared[0][0] if shared and check_password_hash(shared[0][0], DEMO_PASSWORD) else None
        candidates = [u for u in users if u.password_hash is None or u.password_hash == demo_hash]
        rank = {"pro_monthly": 0, "team_monthly": 1, "pro_yearly": 2, "team_yearly": 3}
        best: tuple[int, User] | None = None
        for user in candidates:
            try:
                subs = self.billing.subscriptions.list(user.owner_id)
            except BillingError:
                continue
            for sub in subs:
                if sub.status != "active" or sub.cancel_at_period_end:
                    continue
                score = min((rank.get(i.lookup_key or "", 9) for i in sub.items), default=9)
                if best is None or score < best[0]:
                    best = (score, user)
            if best is not None and best[0] == 0:
                break
        return best[1] if best is not None else None


def connect_signals(billing: Billing) -> Any:
    """The host's reactions to billingos's signals: a welcome email when a subscription becomes active
    (through billingos's configured mailer), and a log line when churn risk is detected. Returns the
    switch that mutes them (the demo's seeding would otherwise greet 1,500 made-up customers)."""
    hooks = _Hooks(billing)
    signals.subscription_activated.connect(hooks.welcome, sender=billing, weak=False)
    signals.churn_risk_detected.connect(hooks.churn_risk, sender=billing, weak=False)
    return hooks


class _Hooks:
    def __init__(self, billing: Billing) -> None:
        self.billing = billing
        self.muted = False

    def welcome(self, sender: Billing, *, subscription: Any, previous_status: str | None = None, **_: Any) -> None:
        if self.muted or previous_status not in (None, "trialing", "incomplete"):
            return      # a recovery from past_due is not a welcome
        try:
            customer = sender.customers.get(stripe_id=subscription.customer)
        except BillingError:
            return
        if not customer.email:
            return
        name = customer.name or "there"
        text = (f"Hi {name},\n\nWelcome to Linkshelf: your subscription is active. Your links, your API "
                "token and your billing are one click away at https://linkshelf.example/app.\n\nThe Linkshelf team\n")
        html = (f"<p>Hi {_escape(name)},</p><p>Welcome to Linkshelf: your subscription is active.</p>"
                "<p>The Linkshelf team</p>")
        message = EmailMessage(to=customer.email, subject="Welcome to Linkshelf", text=text, html=html,
                               template="linkshelf_welcome", idempotency_key=f"welcome:{subscription.id}",
                               sender=sender.config.email_from)
        try:
            sender.notifications.mailer.send(message)
        except Exception:   # a mail outage must not fail the webhook that activated the plan
            log.exception("linkshelf: the welcome email to %s failed", customer.email)

    def churn_risk(self, sender: Billing, *, owner_id: str, score: float, reasons: list[str] | None = None,
                   **_: Any) -> None:
        if self.muted:
            return
        log.warning("linkshelf: churn risk %.0f%% for %s: %s", score * 100, owner_id,
                    "; ".join(reasons or []) or "no reason given")


# --- input checks: the product's own, before anything is written -------------------------------------
def _clean(value: Any, field: str, max_length: int) -> str:
    if not isinstance(value, str):
        raise ProductError(f"{field.capitalize()} must be text.", field=field)
    if len(value) > max_length:
        raise ProductError(f"{field.capitalize()} is too long (at most {max_length:,} characters).", field=field)
    if any(unicodedata.category(c) == "Cs" for c in value):
        raise ProductError(f"{field.capitalize()} contains characters that are not valid text.", field=field)
    return value


def _text(value: Any, field: str, max_length: int, *, required: bool = False, multiline: bool = False) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ProductError(f"Enter your {field}.", field=field)
        return None
    text = _clean(value, field, max_length).strip()
    allowed = "\n\r\t" if multiline else ""
    if any(unicodedata.category(c) == "Cc" and c not in allowed for c in text):
        raise ProductError(f"{field.capitalize()} contains control characters.", field=field)
    return text


def _email(value: Any) -> str:
    email = _clean(value, "email", 254).strip()
    if not _EMAIL.fullmatch(email):
        raise ProductError("Enter an email address like you@example.com.", field="email")
    return email


def _password(value: Any) -> str:
    password = _clean(value, "password", 200)
    if len(password) < 8:
        raise ProductError("Choose a password of at least 8 characters.", field="password")
    if "\x00" in password:
        raise ProductError("Password contains control characters.", field="password")
    return password


def _url(value: Any) -> str:
    url = _clean(value, "url", 2048).strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() or ord(c) < 32 for c in url):
        raise ProductError("Enter a web address that starts with http:// or https://.", field="url")
    return url


def _cell(value: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas: defuse them in the export."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _escape(text: str) -> str:
    from markupsafe import escape
    return str(escape(text))
