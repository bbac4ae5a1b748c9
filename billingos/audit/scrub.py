"""What never reaches the audit log: card data, API key secrets, Stripe keys, webhook secrets, URLs.

``scrub`` walks a before/after value and replaces sensitive fields and values with ``"[redacted]"``. It is
a second line: the recorders pass small, chosen snapshots in the first place.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[redacted]"
#: Field names whose value is always dropped (exact, or ending with one of the suffixes).
_FIELDS = {"secret", "secret_hash", "password", "number", "cvc", "card", "client_secret", "webhook_secrets",
           "stripe_api_key", "authorization", "api_key"}
_SUFFIXES = ("_url", "_secret", "_token")
#: Values that look like a credential or a card number wherever they appear.
_VALUES = re.compile(r"bos_(?:live|test)_[0-9a-f]{12}_[A-Za-z0-9_\-]{10,}|whsec_[A-Za-z0-9]+|"
                     r"[sr]k_(?:live|test)_[A-Za-z0-9]+|https?://\S+|(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")


def scrub(value: Any, depth: int = 0) -> Any:
    if depth > 16:
        return REDACTED
    if isinstance(value, dict):
        return {str(k): (REDACTED if _sensitive(str(k)) else scrub(v, depth + 1)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v, depth + 1) for v in value]
    if isinstance(value, str):
        return _VALUES.sub(REDACTED, value)
    return value


def _sensitive(name: str) -> bool:
    lowered = name.lower()
    return lowered in _FIELDS or lowered.endswith(_SUFFIXES)
