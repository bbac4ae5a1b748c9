"""Stripe-Signature verification: HMAC-SHA256 over "t.body", constant time, several secrets, a tolerance."""

from __future__ import annotations

import hashlib
import hmac

from ..errors import BillingError

__all__ = ["WebhookSignatureError", "verify_signature"]


class WebhookSignatureError(BillingError):
    """The Stripe-Signature header is missing, malformed, too old or matches no secret."""

    code = "webhook_signature_invalid"
    status = 400


def verify_signature(payload: bytes, header: str | None, secrets: list[str], *, tolerance: int,
                     now: int) -> int:
    """Return the signed timestamp, or raise. Only ``v1`` counts; other schemes are ignored."""
    if not secrets:
        raise WebhookSignatureError("No webhook secret is configured: set BillingConfig.webhook_secrets.")
    if tolerance <= 0:
        raise WebhookSignatureError("A tolerance of 0 would turn off the age check; it is refused.")
    if not header:
        raise WebhookSignatureError("Missing Stripe-Signature header.")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise WebhookSignatureError("Stripe-Signature has a malformed timestamp.") from None
        elif key == "v1" and value.isascii():   # compare_digest refuses non-ASCII text; no v1 has any
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookSignatureError("Stripe-Signature needs a t= timestamp and at least one v1= signature.")
    signed = str(timestamp).encode() + b"." + payload
    expected = [hmac.new(s.encode(), signed, hashlib.sha256).hexdigest() for s in secrets]
    # Compare every pair so timing does not reveal which secret or signature matched.
    ok = False
    for e in expected:
        for sig in signatures:
            ok |= hmac.compare_digest(e, sig)
    if not ok:
        raise WebhookSignatureError("No signature matches any configured webhook secret.")
    if abs(now - timestamp) > tolerance:
        raise WebhookSignatureError(f"The signature timestamp is {abs(now - timestamp)} s away from now, beyond "
                                    f"the {tolerance} s tolerance (a replayed or delayed request).")
    return timestamp
