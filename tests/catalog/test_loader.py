"""Loading catalogs from TOML and YAML files."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from billingos.catalog import Catalog, load_catalog, parse_catalog
from billingos.errors import InvalidInputError

EXAMPLE = Path(__file__).parents[2] / "example_app" / "catalog.toml"

TOML = """
[[meters]]
event_name = "api_calls"
display_name = "API calls"

[[features]]
key = "export"
name = "Export"

[[features]]
key = "api_calls"
name = "API calls"
type = "metered"
meter = "api_calls"

[[products]]
key = "pro"
name = "Pro"
features = ["export", { key = "api_calls", limit = 10_000, reset = "month", rollover = true }]

  [[products.prices]]
  lookup_key = "pro_monthly"
  currency = "usd"
  unit_amount = 2_900
  interval = "month"

  [[products.prices]]
  lookup_key = "pro_api"
  currency = "usd"
  unit_amount_decimal = "0.125"
  interval = "month"
  usage_type = "metered"
  meter = "api_calls"

  [[products.prices]]
  lookup_key = "pro_seats"
  currency = "eur"
  interval = "year"
  tiers_mode = "volume"
  tiers = [{ up_to = 10, unit_amount = 1000 }, { up_to = "inf", unit_amount = 800, flat_amount = 500 }]
"""

YAML = """
meters:
  - event_name: api_calls
    display_name: API calls
features:
  - key: export
    name: Export
  - key: api_calls
    name: API calls
    type: metered
    meter: api_calls
products:
  - key: pro
    name: Pro
    features:
      - export
      - {key: api_calls, limit: 10000, reset: month, rollover: true}
    prices:
      - {lookup_key: pro_monthly, currency: usd, unit_amount: 2900, interval: month}
      - {lookup_key: pro_api, currency: usd, unit_amount_decimal: "0.125", interval: month,
         usage_type: metered, meter: api_calls}
      - lookup_key: pro_seats
        currency: eur
        interval: year
        tiers_mode: volume
        tiers:
          - {up_to: 10, unit_amount: 1000}
          - {up_to: inf, unit_amount: 800, flat_amount: 500}
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_toml_and_yaml_give_the_same_catalog(tmp_path: Path) -> None:
    from_toml = load_catalog(_write(tmp_path, "c.toml", TOML))
    from_yaml = Catalog.from_file(_write(tmp_path, "c.yaml", YAML))
    assert from_toml == from_yaml
    assert load_catalog(_write(tmp_path, "c.yml", YAML)) == from_yaml
    pro = from_toml.product("pro")
    assert [p.lookup_key for p in pro.prices] == ["pro_monthly", "pro_api", "pro_seats"]
    assert pro.prices[1].unit_amount_decimal == Decimal("0.125")
    assert pro.prices[2].tiers is not None and pro.prices[2].tiers[-1].up_to == "inf"
    assert pro.features[1].limit == 10_000 and pro.features[1].rollover is True


@pytest.mark.parametrize(
    "name,text,expected",
    [
        ("bad.toml", "[[products]\nkey = 1", r"bad\.toml: TOML syntax error"),
        (
            "bad.yaml",
            "products:\n  - key: [unclosed\n",
            r"bad\.yaml: YAML syntax error at line \d+, column \d+",
        ),
        (
            "unknown.toml",
            '[[products]]\nkey = "pro"\nname = "Pro"\nprize = 5\n',
            r"unknown\.toml: Invalid catalog: product 'pro': unknown key 'prize'",
        ),
        ("unknown.yaml", "productz: []\n", r"unknown\.yaml: Invalid catalog: unknown key 'productz'"),
        (
            "float.yaml",
            "products:\n  - key: pro\n    name: Pro\n    prices:\n      - {lookup_key: m, currency: usd, "
            "unit_amount_decimal: 0.5}\n",
            r"float\.yaml: .*price 'm': unit_amount_decimal: 0\.5 is a float",
        ),
        ("list.yaml", "- a\n- b\n", r"list\.yaml: the catalog must be a mapping"),
        ("catalog.json", "{}", r"unsupported catalog file type '\.json'"),
    ],
)
def test_errors_name_the_file(tmp_path: Path, name: str, text: str, expected: str) -> None:
    path = _write(tmp_path, name, text)
    with pytest.raises(InvalidInputError, match=expected):
        load_catalog(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"nope\.toml: no such catalog file"):
        load_catalog(tmp_path / "nope.toml")


def test_empty_file_is_an_empty_catalog(tmp_path: Path) -> None:
    assert load_catalog(_write(tmp_path, "empty.yaml", "")) == Catalog()
    assert parse_catalog("", "toml") == Catalog()


def test_example_app_catalog_loads() -> None:
    catalog = load_catalog(EXAMPLE)
    assert [p.key for p in catalog.products] == ["free", "pro", "team"]
    assert {f.key for f in catalog.features} >= {"export", "sso", "priority_support", "api_calls"}
    limits = {p.key: next(f.limit for f in p.features if f.key == "api_calls") for p in catalog.products}
    assert limits == {"free": 1_000, "pro": 10_000, "team": 100_000}
    intervals = {pr.lookup_key: pr.interval for _, pr in catalog.prices()}
    assert intervals["pro_monthly"] == "month" and intervals["pro_yearly"] == "year"
    metered = [pr for _, pr in catalog.prices() if pr.usage_type == "metered"]
    assert [(m.lookup_key, m.meter) for m in metered] == [("pro_api_calls", "api_calls")]
