"""Stripe's webhook signature scheme: ``Stripe-Signature: t=<ts>,v1=<hex hmac-sha256 of "t.body">``."""

from __future__ import annotations

import hashlib
import hmac


def compute_signature(payload: bytes, secret: str, timestamp: int) -> str:
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(payload: bytes, secrets: list[str], timestamp: int) -> str:
    """One ``v1`` per secret, as Stripe sends during a secret roll."""
    sigs = ",".join(f"v1={compute_signature(payload, s, timestamp)}" for s in secrets)
    return f"t={timestamp},{sigs}"
