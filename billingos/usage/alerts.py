"""Customers' own usage alert thresholds ("email me at 50% and 80%"), one setting per owner and metered
feature. For that owner and the meter the feature counts they replace the configured ``thresholds``; the
threshold signal (and its email) still fires once per threshold and period."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from .. import validation
from ..catalog.models import BillingFeature
from ..db import in_many, insert_ignore
from ..errors import InvalidInputError
from .models import BillingUsageAlert

__all__ = ["MAX_ALERTS", "for_owner", "for_pairs", "metered_feature", "remove", "save", "thresholds"]

#: How many thresholds a customer may set per feature.
MAX_ALERTS = 5


def thresholds(raw: Any) -> tuple[int, ...]:
    """Integer percentages from 1 to 100, at most ``MAX_ALERTS`` once repeats are dropped, sorted."""
    if isinstance(raw, str | bytes | Mapping) or not isinstance(raw, Iterable):
        raise InvalidInputError("thresholds must be a list of whole percentages from 1 to 100, e.g. [50, 80], "
                                f"got {validation.echo(raw)}.", param="thresholds")
    listed = list(raw)
    if len(listed) > 100:       # before any work on a huge list
        raise InvalidInputError(f"thresholds takes at most {MAX_ALERTS} percentages.", param="thresholds")
    values = sorted({validation.integer(t, "thresholds", minimum=1, maximum=100) for t in listed})
    if len(values) > MAX_ALERTS:
        raise InvalidInputError(f"thresholds takes at most {MAX_ALERTS} percentages, got {len(values)}.",
                                param="thresholds")
    return tuple(values)


def metered_feature(session: Session, raw: Any) -> str:
    """A known metered feature's lookup key; InvalidInputError otherwise."""
    key = validation.lookup_key(raw, "feature")
    kind = session.scalar(select(BillingFeature.type).where(BillingFeature.lookup_key == key))
    if kind != "metered":
        raise InvalidInputError(f"{key!r} is not a metered feature of the catalog: alerts are set on metered "
                                "features (billing.catalog.features()).", param="feature")
    return key


def save(session: Session, owner_id: str, feature: str, values: tuple[int, ...], now: datetime) -> None:
    """Insert or replace the owner's setting for ``feature`` (two saves at once: the last one wins)."""
    fields = {"owner_id": owner_id, "feature": feature, "thresholds": list(values), "updated_at": now}
    if insert_ignore(session, BillingUsageAlert, fields, key=["owner_id", "feature"]):
        return
    session.execute(update(BillingUsageAlert).where(BillingUsageAlert.owner_id == owner_id,
                                                    BillingUsageAlert.feature == feature)
                    .values(thresholds=list(values), updated_at=now))


def remove(session: Session, owner_id: str, feature: str) -> None:
    session.execute(delete(BillingUsageAlert).where(BillingUsageAlert.owner_id == owner_id,
                                                    BillingUsageAlert.feature == feature))


def for_owner(session: Session, owner_id: str) -> dict[str, tuple[int, ...]]:
    """The owner's own settings, by feature."""
    rows = session.execute(select(BillingUsageAlert.feature, BillingUsageAlert.thresholds)
                           .where(BillingUsageAlert.owner_id == owner_id)).all()
    return {feature: tuple(values) for feature, values in rows}


def for_pairs(session: Session, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, ...] | None]:
    """Each (owner, meter)'s own thresholds: the union over the features that count the meter that the
    owner set; None where the owner set none (the configured thresholds apply)."""
    out: dict[tuple[str, str], tuple[int, ...] | None] = dict.fromkeys(pairs)
    owners = sorted({owner for owner, _ in pairs})
    if not owners:
        return out
    a, f = BillingUsageAlert, BillingFeature
    query = select(a.owner_id, func.coalesce(f.meter_event_name, f.lookup_key), a.thresholds).join(
        f, f.lookup_key == a.feature)
    rows = [r for clause in in_many(session, a.owner_id, owners) for r in session.execute(query.where(clause))]
    for owner, meter, values in rows:
        if (owner, meter) in out:
            out[(owner, meter)] = tuple(sorted({*(out[(owner, meter)] or ()), *values}))
    return out
