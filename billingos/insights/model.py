"""The churn model: a time-split comparison of logistic regression and gradient boosting, both calibrated,
and the words that explain a score. scikit-learn is the ``ml`` extra: ``pip install billingos[ml]``.

Validation never looks at the future: snapshots up to ``split - HORIZON`` train (their labels are known by
``split``), snapshots from ``split`` on test. The better model on the holdout (ROC AUC, then Brier score) is
refitted on every labelled snapshot and kept.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigurationError, InsufficientDataError
from .features import HORIZON, Snapshot

__all__ = ["Fitted", "describe", "evaluate", "explain", "lift_at", "load", "sklearn_modules"]

#: Candidates, in the order a tie is broken (the simpler model wins).
ALGORITHMS = ("logistic_regression", "gradient_boosting")
#: The most rows a model is fitted on: above it, a uniform sample (same seed, same sample). Fitting time grows
#: with rows while the holdout AUC stops moving long before; the holdout itself is always scored in full.
MAX_FIT_ROWS = 120_000


def single_threaded() -> Any:
    """Gradient boosting's OpenMP threads on small data cost far more than they save, and on a busy host
    they oversubscribe the cores (a 100x slowdown was measured): billingos fits and predicts on one thread."""
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=1)


def sklearn_modules() -> Any:
    try:
        import numpy
        import sklearn  # noqa: F401
    except ImportError:
        raise ConfigurationError("Churn prediction needs scikit-learn: pip install 'billingos[ml]'.") from None
    return numpy


@dataclass
class Fitted:
    algorithm: str
    estimator: Any              # a calibrated scikit-learn classifier
    names: list[str]
    baseline: list[float]       # each feature's median on the training rows: "nothing unusual"


def _estimator(algorithm: str, seed: int) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    if algorithm == "logistic_regression":
        base = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, C=1.0))
        method = "sigmoid"
    else:
        base = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.08, max_leaf_nodes=15,
                                              min_samples_leaf=20, random_state=seed)
        method = "isotonic"
    return CalibratedClassifierCV(base, method=method, cv=3)


def _stack(snaps: Sequence[Snapshot]) -> tuple[Any, Any]:
    np = sklearn_modules()
    rows = [r for s in snaps for r in s.rows]
    labels = [y for s in snaps for y in (s.labels or [])]
    return np.asarray(rows, dtype=float).reshape(len(rows), -1), np.asarray(labels, dtype=int)


def roc_auc(y: Any, p: Any) -> float:
    from sklearn.metrics import roc_auc_score
    return float(roc_auc_score(y, p)) if 0 < int(y.sum()) < len(y) else float("nan")


def lift_at(y: Any, p: Any, share: float = 0.1) -> float:
    """The churn rate among the riskiest ``share`` of rows divided by the overall churn rate."""
    np = sklearn_modules()
    n = max(1, math.ceil(len(y) * share))
    top = np.argsort(-p, kind="stable")[:n]
    overall = float(y.mean())
    return float(y[top].mean() / overall) if overall > 0 else float("nan")


def calibration_table(y: Any, p: Any, bins: int = 10) -> list[dict[str, float]]:
    """Predicted against observed churn per band of predicted risk (empty bands left out)."""
    out = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        mask = (p >= lo) & ((p < hi) if b < bins - 1 else (p <= hi))
        if int(mask.sum()):
            out.append({"low": lo, "high": hi, "count": int(mask.sum()), "predicted": float(p[mask].mean()),
                        "observed": float(y[mask].mean())})
    return out


def evaluate(snaps: Sequence[Snapshot], *, min_customers: int, min_churn_events: int, seed: int = 0,
             shuffle_labels: bool = False) -> tuple[Fitted, dict[str, Any]]:
    """Compare the candidates on a time split of ``snaps`` (oldest first); refit the better on all of them."""
    sklearn_modules()
    with single_threaded():
        return _evaluate(snaps, min_customers=min_customers, min_churn_events=min_churn_events, seed=seed,
                         shuffle_labels=shuffle_labels)


def _evaluate(snaps: Sequence[Snapshot], *, min_customers: int, min_churn_events: int, seed: int,
              shuffle_labels: bool) -> tuple[Fitted, dict[str, Any]]:
    np = sklearn_modules()
    from sklearn.metrics import brier_score_loss
    dates = sorted({s.at for s in snaps})
    if len(dates) < 3:
        raise InsufficientDataError(f"Churn training needs at least 3 snapshot dates with known outcomes; there "
                                    f"are {len(dates)}. Wait for more history or widen start/end.")
    split = dates[max(1, int(len(dates) * 0.7))]
    train = [s for s in snaps if s.at + HORIZON <= split and s.rows]
    test = [s for s in snaps if s.at >= split and s.rows]
    if not train or not test:
        raise InsufficientDataError(f"The snapshots span {dates[0]:%Y-%m-%d} to {dates[-1]:%Y-%m-%d}: a time split "
                                    "needs training snapshots whose 30-day outcome is known before the test ones "
                                    "start (about 100 days of history or more).")
    x_tr, y_tr = _stack(train)
    x_te, y_te = _stack(test)
    if shuffle_labels:                       # the leakage check: with labels cut loose, AUC must fall to ~0.5
        rng = np.random.default_rng(seed)
        y_tr, y_te = rng.permutation(y_tr), rng.permutation(y_te)
    x_fit, y_fit = _sample(x_tr, y_tr, seed)
    customers = len({o for s in snaps for o in s.owners})
    for what, have, need in (("customers", customers, min_customers),
                             ("churn events in the training window", int(y_tr.sum()), min_churn_events),
                             ("churn events in the test window", int(y_te.sum()), max(1, min_churn_events // 4)),
                             ("retained rows in the training window", int(len(y_tr) - y_tr.sum()), min_churn_events),
                             # one class only in the holdout: no ROC AUC exists (and NaN cannot be stored)
                             ("retained rows in the test window", int(len(y_te) - y_te.sum()), 1)):
        if have < need:
            raise InsufficientDataError(f"Too little data to train a churn model: {have} {what}, at least {need} "
                                        f"needed. A guess would be worse than no model.", have=have, need=need)
    results: dict[str, Any] = {}
    for algorithm in ALGORITHMS:
        est = _estimator(algorithm, seed).fit(x_fit, y_fit)
        p = est.predict_proba(x_te)[:, 1]
        results[algorithm] = {"roc_auc": roc_auc(y_te, p), "top_decile_lift": lift_at(y_te, p),
                              "brier": float(brier_score_loss(y_te, p)), "calibration": calibration_table(y_te, p)}
    best = min(ALGORITHMS, key=lambda a: (-_num(results[a]["roc_auc"]), results[a]["brier"]))
    x_all, y_all = _stack(snaps)
    if shuffle_labels:
        y_all = np.random.default_rng(seed).permutation(y_all)
    final = _estimator(best, seed).fit(*_sample(x_all, y_all, seed))
    names = list(snaps[0].names)
    fitted = Fitted(best, final, names, [float(v) for v in np.median(x_all, axis=0)])
    report = {
        "algorithm": best, **results[best], "candidates": results, "features": names,
        "split_at": split.isoformat(), "train_rows": len(y_tr), "test_rows": len(y_te),
        "train_churn_events": int(y_tr.sum()), "test_churn_events": int(y_te.sum()), "customers": customers,
        "snapshots": [d.isoformat() for d in dates], "horizon_days": HORIZON.days,
        "churn_rate": float(y_te.mean()), "feature_weights": _weights(fitted, x_all),
        "shuffled_labels": shuffle_labels,
    }
    return fitted, report


def _sample(x: Any, y: Any, seed: int) -> tuple[Any, Any]:
    """At most ``MAX_FIT_ROWS`` rows, drawn uniformly (so the churn rate, and the calibration, stay as they are)."""
    if len(y) <= MAX_FIT_ROWS:
        return x, y
    np = sklearn_modules()
    keep = np.sort(np.random.default_rng(seed).choice(len(y), MAX_FIT_ROWS, replace=False))
    return x[keep], y[keep]


def _num(x: float) -> float:
    return -1.0 if x != x else x


def _weights(fitted: Fitted, x: Any) -> dict[str, float]:
    """How much each feature moves the mean risk when set to its median (model-agnostic, on a sample)."""
    sample = x[: min(len(x), 2000)]
    return {n: round(float(v), 4) for n, v in zip(fitted.names, mean_effects(fitted, sample), strict=True)}


def mean_effects(fitted: Fitted, x: Any) -> list[float]:
    np = sklearn_modules()
    base = fitted.estimator.predict_proba(x)[:, 1]
    out = []
    for j, median in enumerate(fitted.baseline):
        moved = x.copy()
        moved[:, j] = median
        out.append(float(np.abs(base - fitted.estimator.predict_proba(moved)[:, 1]).mean()))
    return out


def explain(fitted: Fitted, x: Any, top: int = 3, *, floor: float = 0.0,
            share: float = 0.0) -> tuple[Any, list[list[tuple[str, float]]]]:
    """Risk per row and, for the rows whose risk is at least ``floor`` or among the riskiest ``share`` of
    rows, the features that raise it most: how far the risk falls when that one feature is set to its median
    (occlusion: one prediction per feature, so it is worked out only where a person will read it; the other
    rows get no reasons). Works the same for either algorithm."""
    np = sklearn_modules()
    with single_threaded():
        risk = fitted.estimator.predict_proba(x)[:, 1]
        if share > 0 and len(risk):
            floor = min(floor, float(np.quantile(risk, 1 - share)))
        rows = np.flatnonzero(risk >= floor)
        sub = x[rows]
        drops = np.zeros_like(sub, dtype=float)
        if len(rows):
            for j, median in enumerate(fitted.baseline):
                moved = sub.copy()
                moved[:, j] = median
                drops[:, j] = risk[rows] - fitted.estimator.predict_proba(moved)[:, 1]
    order = np.argsort(-drops, axis=1)[:, :top]
    reasons: list[list[tuple[str, float]]] = [[] for _ in range(len(x))]
    for k, i in enumerate(rows):
        reasons[i] = [(fitted.names[j], float(drops[k, j])) for j in order[k] if drops[k, j] > 0.005]
    return risk, reasons


def describe(name: str, value: float) -> str:
    """A feature's value in words, as the merchant reads it next to the score."""
    if name == "usage_trend":
        if value < 1:
            return f"usage fell {round((1 - value) * 100)}% in the last 7 days"
        return f"usage rose {round((value - 1) * 100)}% in the last 7 days"
    words = {
        "days_since_usage": lambda v: f"no usage for {round(v)} days",
        "features_used": lambda v: f"used {round(v)} feature{'s' if round(v) != 1 else ''} in the last 30 days",
        "failed_payments": lambda v: f"{round(v)} failed payment{'s' if round(v) != 1 else ''} in the last 90 days",
        "days_past_due": lambda v: f"an invoice past due for {round(v)} days",
        "downgrades": lambda v: f"downgraded {round(v)} time{'s' if round(v) != 1 else ''} in the last 90 days",
        "tenure_days": lambda v: f"a customer for {round(v)} days",
        "mrr": lambda v: f"MRR of {v:,.2f}",
        "seats": lambda v: f"{round(v)} seat{'s' if round(v) != 1 else ''}",
    }
    fn = words.get(name)
    return fn(value) if fn else f"{name.replace('_', ' ')} at {value:g}"


def dump(fitted: Fitted) -> bytes:
    import joblib
    buf = io.BytesIO()
    joblib.dump(fitted, buf)
    return buf.getvalue()


def load(blob: bytes) -> Fitted:
    sklearn_modules()
    import joblib
    fitted = joblib.load(io.BytesIO(blob))
    if not isinstance(fitted, Fitted):
        raise ConfigurationError("The stored churn model is not a billingos model; train it again.")
    return fitted
