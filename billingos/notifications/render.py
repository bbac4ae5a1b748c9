"""Rendering emails with jinja2: ``templates/billingos/emails/<name>.subject.txt``, ``<name>.txt`` and
``<name>.html``. The HTML is autoescaped; the text parts are plain text (nothing to escape) and the subject
is one line. Money and dates are formatted for people; templates never show Stripe ids."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import jinja2

from ..money import Money

__all__ = ["TEMPLATES", "Renderer"]

#: Every email billingos sends, by template name.
TEMPLATES = ("trial_ending", "payment_failed", "retry_scheduled", "payment_recovered", "dunning_exhausted",
             "usage_threshold", "upgrade_suggestion", "churn_risk_alert")


class Renderer:
    def __init__(self, *, template_dir: str | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = [jinja2.PackageLoader("billingos", "templates/billingos/emails")]
        if template_dir is not None:            # the host's overrides win
            loaders.insert(0, jinja2.FileSystemLoader(template_dir))
        loader = jinja2.ChoiceLoader(loaders)
        self.html = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)
        self.text = jinja2.Environment(loader=loader, autoescape=False, undefined=jinja2.StrictUndefined,
                                       keep_trailing_newline=True)
        for env in (self.html, self.text):
            env.filters.update(money=money, date=date, datetime=date_time, percent=percent)

    def render(self, template: str, context: dict[str, Any]) -> tuple[str, str, str]:
        """(subject, text, html) of ``template`` with ``context``."""
        subject = self.text.get_template(f"{template}.subject.txt").render(context)
        subject = " ".join(subject.split())     # one line: no header injection through a customer's name
        text = re.sub(r"\n{3,}", "\n\n", self.text.get_template(f"{template}.txt").render(context)).strip() + "\n"
        html = self.html.get_template(f"{template}.html").render(context)
        return subject, text, html


def money(amount: int, currency: str) -> str:
    """12345, "usd" -> "$123.45"; 500, "jpy" -> "¥500"."""
    return Money(int(amount), currency).format()


def _when(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def date(value: str | datetime) -> str:
    """"2026-02-15T12:00:00+00:00" -> "February 15, 2026"."""
    d = _when(value)
    return f"{d:%B} {d.day}, {d.year}"


def date_time(value: str | datetime) -> str:
    """"2026-02-15T12:00:00+00:00" -> "February 15, 2026 at 12:00 UTC"."""
    d = _when(value)
    return f"{date(d)} at {d:%H:%M} UTC"


def percent(value: float) -> str:
    """0.734 -> "73%"."""
    return f"{round(float(value) * 100)}%"
