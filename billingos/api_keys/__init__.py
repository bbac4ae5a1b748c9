"""API keys for the JSON API: created once with their secret, stored as SHA-256, scoped, revocable."""

from .schemas import SCOPES, ApiKey, CreatedApiKey, Scope
from .service import ApiKeyService

__all__ = ["SCOPES", "ApiKey", "ApiKeyService", "CreatedApiKey", "Scope"]
