"""A ``stripe.HTTPClient`` that answers from an in-process Emulator: the SDK does the rest unchanged."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import stripe

if TYPE_CHECKING:
    from .app import Emulator


class EmulatorHTTPClient(stripe.HTTPClient):
    name = "billingos-emulator"

    def __init__(self, emulator: Emulator) -> None:
        super().__init__()
        self.emulator = emulator

    def request(self, method: str, url: str, headers: Mapping[str, str] | None,
                post_data: Any = None, **_: Any) -> tuple[str, int, Mapping[str, str]]:
        if self.emulator.faults.down:
            err = stripe.APIConnectionError(
                "Unexpected error communicating with Stripe. (billingos emulator: simulated outage)",
                should_retry=True)
            raise err
        parts = urlsplit(url)
        body = post_data.decode() if isinstance(post_data, bytes) else (post_data or "")
        status, rheaders, content = self.emulator.handle(method, parts.path, parts.query, body, dict(headers or {}))
        return content, status, rheaders

    def request_stream(self, method: str, url: str, headers: Mapping[str, str] | None,
                       post_data: Any = None, **_: Any) -> tuple[Any, int, Mapping[str, str]]:
        content, status, rheaders = self.request(method, url, headers, post_data)
        return io.BytesIO(content.encode()), status, rheaders

    async def request_async(self, method: str, url: str, headers: Mapping[str, str] | None,
                            post_data: Any = None, **_: Any) -> tuple[bytes, int, Mapping[str, str]]:
        content, status, rheaders = self.request(method, url, headers, post_data)
        return content.encode(), status, rheaders

    def close(self) -> None:
        pass

    async def close_async(self) -> None:
        pass
