"""The catalog: products, prices, features and meters declared in code or a file, synced to Stripe.

from billingos.catalog import Catalog
billing.catalog.sync(Catalog.from_file("catalog.toml"))
"""

from .loader import load_catalog, parse_catalog
from .mirror import sync_feature, sync_meter, sync_plan_features, sync_price, sync_product
from .report import CatalogSyncReport, Changes
from .schemas import (
    Catalog,
    Feature,
    Meter,
    PlanFeature,
    Price,
    Product,
    Tier,
    TransformQuantity,
    product_stripe_id,
)
from .snapshots import FeatureInfo, MeterInfo, PlanFeatureInfo, PriceInfo, ProductInfo

__all__ = [
    "Catalog",
    "CatalogSyncReport",
    "Changes",
    "Feature",
    "FeatureInfo",
    "Meter",
    "MeterInfo",
    "PlanFeature",
    "PlanFeatureInfo",
    "Price",
    "PriceInfo",
    "Product",
    "ProductInfo",
    "Tier",
    "TransformQuantity",
    "load_catalog",
    "parse_catalog",
    "product_stripe_id",
    "sync_feature",
    "sync_meter",
    "sync_plan_features",
    "sync_price",
    "sync_product",
]
