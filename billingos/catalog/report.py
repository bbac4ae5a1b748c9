"""What a catalog sync did (or, in a dry run, would do)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["CatalogSyncReport", "Changes"]

KINDS = ("meters", "features", "products", "prices", "plan_features")
_BUCKET = {
    "create": "created",
    "attach": "created",
    "update": "updated",
    "reactivate": "updated",
    "replace": "replaced",
    "archive": "archived",
    "detach": "archived",
}


class Changes(BaseModel):
    """Names per outcome for one kind: product keys, price lookup keys, feature keys, meter event names,
    and ``product:feature`` for plan features. ``replaced`` prices got a new Stripe price (old archived)."""

    model_config = ConfigDict(frozen=True)

    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    archived: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.replaced or self.archived)


class CatalogSyncReport(BaseModel):
    """``noop`` is True when Stripe already matched the catalog (nothing was, or would be, written)."""

    model_config = ConfigDict(frozen=True)

    meters: Changes = Changes()
    features: Changes = Changes()
    products: Changes = Changes()
    prices: Changes = Changes()
    plan_features: Changes = Changes()
    dry_run: bool = False
    stripe_writes: int = 0

    @property
    def noop(self) -> bool:
        return not any(getattr(self, k).changed for k in KINDS)

    def lines(self) -> list[str]:
        """Human-readable lines, one per change: ``+ price pro_monthly (created)``; ``~`` updated,
        ``^`` replaced, ``-`` archived."""
        out = []
        signs = {"created": "+", "updated": "~", "replaced": "^", "archived": "-"}
        for kind in KINDS:
            changes = getattr(self, kind)
            for bucket, sign in signs.items():
                for name in getattr(changes, bucket):
                    out.append(f"{sign} {kind[:-1].replace('_', ' ')} {name} ({bucket})")
        return out

    def summary(self) -> str:
        head = "dry run: " if self.dry_run else ""
        if self.noop:
            return f"{head}catalog is up to date (no changes)"
        counts = []
        for kind in KINDS:
            c = getattr(self, kind)
            n = len(c.created) + len(c.updated) + len(c.replaced) + len(c.archived)
            if n:
                counts.append(f"{n} {kind.replace('_', ' ')}")
        verb = "would change" if self.dry_run else "changed"
        return f"{head}{verb} " + ", ".join(counts)

    @classmethod
    def build(
        cls,
        ops: list[tuple[str, str, str]],
        unchanged: dict[str, list[str]],
        limit_changes: list[str],
        *,
        dry_run: bool,
        stripe_writes: int,
    ) -> CatalogSyncReport:
        """From (kind, action, name) triples; a name appears once per kind."""
        buckets: dict[str, dict[str, list[str]]] = {k: {b: [] for b in _BUCKET.values()} for k in KINDS}
        for kind, action, name in ops:
            target = buckets[kind + "s"][_BUCKET[action]]
            if name not in target:
                target.append(name)
        buckets["plan_features"]["updated"].extend(
            n for n in limit_changes if n not in buckets["plan_features"]["created"]
        )
        fields = {
            k: Changes(**{b: tuple(v) for b, v in buckets[k].items()}, unchanged=tuple(unchanged.get(k, ())))
            for k in KINDS
        }
        return cls(**fields, dry_run=dry_run, stripe_writes=stripe_writes)
