"""Route table: ``/v1/customers/{id}`` style patterns to handler functions."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .params import Params

if TYPE_CHECKING:
    from .app import Emulator


@dataclass
class Request:
    method: str
    path: str
    params: Params
    args: dict[str, str]
    headers: dict[str, str]
    request_id: str
    idempotency_key: str | None = None
    expand: list[str] = field(default_factory=list)


Handler = Callable[["Emulator", Request], dict[str, Any]]


class Router:
    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        rx = re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern))
        self.routes.append((method.upper(), rx, handler))

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            self.add(method, pattern, fn)
            return fn
        return deco

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        for m, rx, handler in self.routes:
            hit = rx.fullmatch(path)
            if hit and m == method.upper():
                return handler, hit.groupdict()
        return None

    def path_known(self, path: str) -> bool:
        return any(rx.fullmatch(path) for _, rx, _ in self.routes)
