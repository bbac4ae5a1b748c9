"""Placeholder: the catalog service lands with the catalog work."""

from __future__ import annotations

from typing import Any


class CatalogService:
    def __init__(self, billing: Any) -> None:
        self._billing = billing
