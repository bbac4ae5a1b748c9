"""Each module registers its routes on the emulator's router. Order does not matter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import (
    customers,
    events,
    features,
    meters,
    payment_methods,
    prices,
    products,
    test_clocks,
    webhook_endpoints,
)

if TYPE_CHECKING:
    from ..app import Emulator

MODULES = [customers, events, meters, payment_methods, products, prices, features, test_clocks,
           webhook_endpoints]


def register_all(em: Emulator) -> None:
    for module in MODULES:
        module.register(em)
