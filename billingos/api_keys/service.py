"""``billing.api_keys``: keys for the JSON API. A key is ``bos_<mode>_<id>_<secret>``:

- ``<id>`` (12 hex characters) is public: it names the key in lists, logs and the audit log (``key_<id>``);
- ``<secret>`` is 256 random bits from ``secrets``; only the SHA-256 of the whole key is stored, and a
  presented key is compared with ``hmac.compare_digest`` (constant time), so neither the database nor a
  timing side channel gives the key away. The full key is returned once, by ``create``.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from .. import validation
from ..actor import Actor, parse_actor
from ..context import Context
from ..domain_events import ApiKeyCreated, ApiKeyRevoked
from ..errors import InvalidInputError, NotFoundError, UnauthenticatedError
from .models import BillingApiKey
from .schemas import SCOPES, ApiKey, CreatedApiKey

__all__ = ["ApiKeyService", "hash_key"]

_KEY = re.compile(r"bos_(live|test)_([0-9a-f]{12})_([A-Za-z0-9_\-]{43})")
_KEY_ID = re.compile(r"key_[0-9a-f]{12}")
#: ``last_used_at`` is written at most this often per key, so a busy key does not write on every request.
LAST_USED_RESOLUTION = timedelta(seconds=60)
_DUMMY_HASH = hashlib.sha256(b"billingos: no such key").hexdigest()
#: How long a process trusts a key it verified without reading its row again (keeps the database off the
#: API's hot path). A revocation is immediate in the revoking process and reaches the others within it.
VERIFIED_TTL = 2.0
_VERIFIED_MAX = 10_000


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


class ApiKeyService:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._verified: dict[str, tuple[float, ApiKey]] = {}   # SHA-256 of a key -> (trusted until, key)

    @property
    def mode(self) -> str:
        """``live`` with a live Stripe key, else ``test``: keys of the other mode are refused."""
        return "live" if (self._ctx.config.stripe_api_key or "").startswith(("sk_live_", "rk_live_")) else "test"

    def create(self, name: str, scopes: Iterable[str], *, owner_id: str | None = None,
               actor: Actor | None = None) -> CreatedApiKey:
        """A new key named ``name`` with ``scopes`` (``entitlements:read``, ``usage:write``,
        ``billing:read``), acting for ``owner_id`` only, or for every owner when it is None (a
        server-to-server key). The returned ``secret`` is shown this once; store it now."""
        name = str(validation.text(name, "name", max_length=200, required=True))
        wanted = _scopes(scopes)
        owner = validation.owner_id(owner_id) if owner_id is not None else None
        who = parse_actor(actor)
        public = secrets.token_hex(6)
        secret = f"bos_{self.mode}_{public}_{secrets.token_urlsafe(32)}"
        row = BillingApiKey(key_id=f"key_{public}", name=name, mode=self.mode, secret_hash=hash_key(secret),
                            scopes=wanted, owner_id=owner, created_by=who.label[:300], created_at=self._ctx.now())
        with self._ctx.transaction() as session:
            session.add(row)
            session.flush()
            key = ApiKey.from_row(row)
            self._ctx.events.publish(session, ApiKeyCreated(key, who))
        return CreatedApiKey(key=key, secret=secret)

    def revoke(self, key_id: str, *, actor: Actor | None = None) -> ApiKey:
        """Revoke a key at once: every later request with it answers 401. Revoking twice is a no-op."""
        key_id = _key_id(key_id)
        who = parse_actor(actor)
        with self._ctx.transaction() as session:
            row = session.scalars(select(BillingApiKey).where(BillingApiKey.key_id == key_id)
                                  .with_for_update()).one_or_none()
            if row is None:
                raise NotFoundError(f"No API key {key_id!r}.", param="key_id")
            if row.revoked_at is not None:
                return ApiKey.from_row(row)
            before = ApiKey.from_row(row)
            self._forget(key_id)
            row.revoked_at = self._ctx.now()
            session.flush()
            after = ApiKey.from_row(row)
            self._ctx.events.publish(session, ApiKeyRevoked(before, after, who))
        return after

    def get(self, key_id: str) -> ApiKey:
        key_id = _key_id(key_id)
        with self._ctx.session_factory() as session:
            row = session.scalars(select(BillingApiKey).where(BillingApiKey.key_id == key_id)).one_or_none()
        if row is None:
            raise NotFoundError(f"No API key {key_id!r}.", param="key_id")
        return ApiKey.from_row(row)

    def list(self, *, owner_id: str | None = None, include_revoked: bool = False) -> builtins.list[ApiKey]:
        """Keys, newest first; ``owner_id`` keeps that owner's keys only."""
        query = select(BillingApiKey).order_by(BillingApiKey.id.desc())
        if owner_id is not None:
            query = query.where(BillingApiKey.owner_id == validation.owner_id(owner_id))
        if not validation.boolean(include_revoked, "include_revoked"):
            query = query.where(BillingApiKey.revoked_at.is_(None))
        with self._ctx.session_factory() as session:
            return [ApiKey.from_row(r) for r in session.scalars(query)]

    def authenticate(self, secret: str) -> ApiKey:
        """The active key whose secret this is, or UnauthenticatedError (malformed, unknown, revoked or of
        the other mode: one answer for all, which never repeats the secret)."""
        found = _KEY.fullmatch(secret) if isinstance(secret, str) else None
        if found is None:
            raise UnauthenticatedError("The API key is malformed: expected 'bos_live_…' or 'bos_test_…'.")
        digest = hash_key(secret)
        cached = self._verified.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return self._touch(digest, cached[1])
        with self._ctx.session_factory() as session:
            row = session.scalars(select(BillingApiKey).where(BillingApiKey.key_id == f"key_{found[2]}")).one_or_none()
        stored = row.secret_hash if row is not None else _DUMMY_HASH
        matches = hmac.compare_digest(digest, stored)   # constant time, and the same work when there is no row
        if row is None or not matches or row.revoked_at is not None or row.mode != self.mode:
            raise UnauthenticatedError("The API key is not valid: it is unknown, revoked or of the other mode.")
        if len(self._verified) >= _VERIFIED_MAX:
            self._verified.clear()
        return self._touch(digest, ApiKey.from_row(row))

    def _touch(self, digest: str, key: ApiKey) -> ApiKey:
        """Record the use (at most once per LAST_USED_RESOLUTION per key) and trust the key a while."""
        now = self._ctx.now()
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
            with self._ctx.transaction() as session:
                session.execute(update(BillingApiKey).where(BillingApiKey.key_id == key.id)
                                .values(last_used_at=now).execution_options(synchronize_session=False))
            self._verified[digest] = (time.monotonic() + VERIFIED_TTL, key.model_copy(update={"last_used_at": now}))
        elif digest not in self._verified or self._verified[digest][0] <= time.monotonic():
            self._verified[digest] = (time.monotonic() + VERIFIED_TTL, key)
        return key

    def _forget(self, key_id: str) -> None:
        for digest, (_, key) in list(self._verified.items()):
            if key.id == key_id:
                del self._verified[digest]


def _key_id(value: Any) -> str:
    if not isinstance(value, str) or not _KEY_ID.fullmatch(value):
        raise InvalidInputError(f"key_id must be an API key id like 'key_0123456789ab', got "
                                f"{validation.echo(value)}.", param="key_id")
    return value


def _scopes(value: Any) -> list[str]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidInputError(f"scopes must be a list of scopes from {', '.join(SCOPES)}, got "
                                f"{validation.echo(value)}.", param="scopes")
    out: list[str] = []
    for scope in value:
        validation.choice(scope, "scopes", SCOPES)
        if scope not in out:
            out.append(scope)
    if not out:
        raise InvalidInputError(f"scopes must name at least one of {', '.join(SCOPES)}.", param="scopes")
    return out
