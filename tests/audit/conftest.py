from tests.entitlements.conftest import Plans, plans

__all__ = ["Plans", "plans"]
