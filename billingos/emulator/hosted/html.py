"""HTML for the stand-in pages: one accessible layout, escaping, money, and the test-card picker.

Everything that comes from data is escaped with ``e()``; nothing is loaded from elsewhere (styles inline).
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from ..cards import DECLINE_ERRORS, TEST_CARDS

# (token, label) in the order the picker shows them; the decline cards behave as Stripe's do.
CARD_CHOICES = [
    ("pm_card_visa", "Visa ending 4242: succeeds"),
    ("pm_card_mastercard", "Mastercard ending 4444: succeeds"),
    ("pm_card_amex", "American Express ending 0005: succeeds"),
    ("pm_card_chargeCustomerFail", "Visa ending 0341: saves, then every charge is declined"),
    ("pm_card_chargeDeclined", "Visa ending 0002: declined (generic_decline)"),
    ("pm_card_chargeDeclinedInsufficientFunds", "Visa ending 9995: declined (insufficient_funds)"),
    ("pm_card_chargeDeclinedLostCard", "Visa ending 9987: declined (lost_card)"),
    ("pm_card_chargeDeclinedExpiredCard", "Visa ending 0069: declined (expired_card)"),
    ("pm_card_chargeDeclinedIncorrectCvc", "Visa ending 0127: declined (incorrect_cvc)"),
    ("pm_card_chargeDeclinedProcessingError", "Visa ending 0119: declined (processing_error)"),
]
CARD_TOKENS = {token for token, _ in CARD_CHOICES}
assert all(t.removeprefix("pm_card_") in TEST_CARDS for t in CARD_TOKENS)
assert DECLINE_ERRORS  # the messages a decline shows come from payment_methods

_CSS = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#f6f7f9}
main{max-width:34rem;margin:0 auto;padding:1rem}
.banner{background:#fff3cd;color:#4d3800;padding:.5rem 1rem;font-size:.9rem;text-align:center}
h1{font-size:1.5rem;margin:.5rem 0 1rem}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
section,.card{background:#fff;border:1px solid #d0d4da;border-radius:8px;padding:1rem;margin:0 0 1rem}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}
input[type=email],input[type=text],select{width:100%;padding:.6rem;font:inherit;border:1px solid #6b7280;
border-radius:6px}
fieldset{border:1px solid #d0d4da;border-radius:8px;margin:1rem 0;padding:.5rem 1rem}
legend{font-weight:600;padding:0 .25rem}
.choice{display:flex;gap:.5rem;align-items:flex-start;margin:.4rem 0}
.choice label{font-weight:400;margin:0}
.choice input{margin-top:.35rem;min-width:1.1rem;min-height:1.1rem}
button,.button{display:inline-block;min-height:44px;padding:.6rem 1.2rem;font:inherit;font-weight:600;
border-radius:6px;border:1px solid #1d4ed8;background:#1d4ed8;color:#fff;cursor:pointer;text-decoration:none}
button.secondary,.button.secondary{background:#fff;color:#1d4ed8}
button.danger{background:#b91c1c;border-color:#b91c1c}
button:focus-visible,a:focus-visible,input:focus-visible,select:focus-visible{outline:3px solid #f59e0b;
outline-offset:2px}
a{color:#1d4ed8}
.alert{border:2px solid #b91c1c;background:#fef2f2;color:#7f1d1d;border-radius:8px;padding:.75rem 1rem;margin:0 0 1rem}
.alert p,.card p:first-child,section>:first-child{margin-top:0}
.choice+button,fieldset+button{margin-top:.5rem}
.note{color:#4b5563;font-size:.95rem}
table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:.4rem .25rem;border-bottom:1px solid #e5e7eb}
td.num,th.num{text-align:right}
.actions{display:flex;flex-wrap:wrap;gap:.5rem;margin-top:1rem}
form.inline{display:inline}
"""


def e(value: Any) -> str:
    """Escape for HTML text and attribute values."""
    return html.escape("" if value is None else str(value), quote=True)


def layout(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>"
        '<div class="banner" role="note">Test mode: a stand-in page of the billingos Stripe emulator. '
        "No real payment is made.</div>"
        f"<main>{body}</main></body></html>"
    )


def message_page(title: str, message: str, *, link: tuple[str, str] | None = None) -> str:
    extra = f'<p><a href="{e(link[0])}">{e(link[1])}</a></p>' if link else ""
    return layout(title, f"<h1>{e(title)}</h1><p>{e(message)}</p>{extra}")


def alert(message: str | None) -> str:
    if not message:
        return ""
    return f'<div class="alert" role="alert" id="error"><p>{e(message)}</p></div>'


def money(amount: int | None, currency: str | None) -> str:
    if amount is None or currency is None:
        return ""
    cur = currency.lower()
    zero_decimal = cur in {"jpy", "krw", "vnd", "clp", "isk", "ugx", "xaf", "xof", "pyg", "rwf", "bif", "djf",
                           "gnf", "kmf", "mga", "vuv", "xpf"}
    symbol = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cad": "CA$", "aud": "A$"}.get(cur)
    value = f"{amount:,}" if zero_decimal else f"{amount / 100:,.2f}"
    return f"{symbol}{value}" if symbol else f"{value} {cur.upper()}"


def date(ts: int | None) -> str:
    if ts is None:
        return ""
    d = datetime.fromtimestamp(ts, UTC)
    return f"{d.day} {d.strftime('%B %Y')}"


def short_date(ts: int | None) -> str:
    if ts is None:
        return ""
    d = datetime.fromtimestamp(ts, UTC)
    return f"{d.day} {d.strftime('%b %Y')}"


def interval(price: dict[str, Any]) -> str:
    rec = price.get("recurring") or {}
    if not rec:
        return ""
    count, unit = rec.get("interval_count", 1), rec.get("interval", "")
    return f"every {count} {unit}s" if count != 1 else f"per {unit}"


def card_picker(selected: str | None = None, *, legend: str = "Card") -> str:
    """Radio buttons for Stripe's test cards, the decline cards included."""
    rows = []
    for i, (token, label) in enumerate(CARD_CHOICES):
        checked = " checked" if token == (selected or "pm_card_visa") else ""
        rows.append(f'<div class="choice"><input type="radio" name="card" id="card-{i}" value="{e(token)}"'
                    f'{checked} required><label for="card-{i}">{e(label)}</label></div>')
    return f"<fieldset><legend>{e(legend)}</legend>{''.join(rows)}</fieldset>"


def hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{e(name)}" value="{e(value)}">'


def post_form(action: str, token: str, inner: str, button: str, *, css: str = "",
              button_class: str = "") -> str:
    cls = f' class="{e(button_class)}"' if button_class else ""
    form_cls = f' class="{e(css)}"' if css else ""
    return (f'<form method="post" action="{e(action)}"{form_cls}>{hidden("token", token)}{inner}'
            f"<button type=\"submit\"{cls}>{e(button)}</button></form>")


def button_link(href: str, label: str, *, secondary: bool = True) -> str:
    cls = "button secondary" if secondary else "button"
    return f'<a class="{cls}" href="{e(href)}">{e(label)}</a>'
