"""Customer tax IDs: ``/v1/customers/{customer}/tax_ids`` create, list, retrieve, delete.

Common types are checked against their national format (``eu_vat`` per member state, ``gb_vat``,
``us_ein``, ``au_abn``, ``ca_bn``, ``ch_vat``, ``in_gst``, ...): a wrong value is 400 ``tax_id_invalid``
("Invalid value for eu_vat."). Any other type the SDK declares takes a plain alphanumeric value.

Verification, as Stripe does it asynchronously for ``eu_vat``, ``gb_vat`` and ``au_abn``: the create
answers ``pending``; the emulator then verifies at once and sends ``customer.tax_id.updated``. A value
whose digits end in ``111111111`` is ``unverified``, any other ``verified`` (an emulator convention for
tests). Types Stripe cannot verify are ``unavailable``.
"""

from __future__ import annotations

import copy
import re
import typing
from typing import TYPE_CHECKING, Any

from ..errors import StripeError, invalid, missing
from ..routing import Request
from ..store import new_id

if TYPE_CHECKING:
    from ..app import Emulator

MAX_PER_CUSTOMER = 25
VERIFIED_TYPES = ("eu_vat", "gb_vat", "au_abn")
UNVERIFIED_SUFFIX = "111111111"

# eu_vat: country prefix -> the rest of the number (VIES formats); EL is Greece, XI Northern Ireland.
_EU_VAT = {
    "AT": r"U\d{8}", "BE": r"[01]\d{9}", "BG": r"\d{9,10}", "CY": r"\d{8}[A-Z]", "CZ": r"\d{8,10}",
    "DE": r"\d{9}", "DK": r"\d{8}", "EE": r"\d{9}", "EL": r"\d{9}", "ES": r"[0-9A-Z]\d{7}[0-9A-Z]",
    "FI": r"\d{8}", "FR": r"[0-9A-Z]{2}\d{9}", "HR": r"\d{11}", "HU": r"\d{8}",
    "IE": r"\d{7}[A-Z]{1,2}|\d[A-Z]\d{5}[A-Z]", "IT": r"\d{11}", "LT": r"\d{9}|\d{12}", "LU": r"\d{8}",
    "LV": r"\d{11}", "MT": r"\d{8}", "NL": r"\d{9}B\d{2}",
    "PL": r"\d{10}", "PT": r"\d{9}", "RO": r"\d{2,10}", "SE": r"\d{12}", "SI": r"\d{8}", "SK": r"\d{10}",
    "XI": r"\d{9}|\d{12}|GD\d{3}|HA\d{3}",
}
_EU_COUNTRY = {"EL": "GR", "XI": "GB"}
# type -> (country, full-match pattern on the value with spaces removed)
_FORMATS = {
    "gb_vat": ("GB", r"GB(\d{9}|\d{12}|GD\d{3}|HA\d{3})"),
    "us_ein": ("US", r"\d{2}-?\d{7}"),
    "au_abn": ("AU", r"\d{11}"),
    "au_arn": ("AU", r"\d{12}"),
    "ca_bn": ("CA", r"\d{9}"),
    "ca_gst_hst": ("CA", r"\d{9}RT\d{4}"),
    "ca_qst": ("CA", r"\d{10}TQ\d{4}"),
    "ch_vat": ("CH", r"CHE-?\d{3}\.?\d{3}\.?\d{3}(MWST|TVA|IVA)"),
    "no_vat": ("NO", r"\d{9}MVA"),
    "nz_gst": ("NZ", r"\d{8,9}"),
    "in_gst": ("IN", r"\d{2}[A-Z]{5}\d{4}[A-Z][0-9A-Z]Z[0-9A-Z]"),
    "jp_cn": ("JP", r"\d{13}"),
    "za_vat": ("ZA", r"4\d{9}"),
    "sg_gst": ("SG", r"[A-Z]\d{8}[A-Z]|\d{9}[A-Z]|M\d{8}[A-Z]"),
    "br_cnpj": ("BR", r"\d{2}\.?\d{3}\.?\d{3}/?\d{4}-?\d{2}"),
    "br_cpf": ("BR", r"\d{3}\.?\d{3}\.?\d{3}-?\d{2}"),
    "mx_rfc": ("MX", r"[A-Z&Ñ]{3,4}\d{6}[A-Z0-9]{3}"),
    "ae_trn": ("AE", r"\d{15}"),
    "eu_oss_vat": (None, r"EU\d{9}"),
}


def _sdk_types() -> set[str]:
    from stripe._tax_id import TaxId  # a private SDK module: imported where it is read, not at import time

    def literals(ann: Any) -> set[str]:
        if typing.get_origin(ann) is typing.Literal:
            return {a for a in typing.get_args(ann) if isinstance(a, str)}
        return set().union(*(literals(a) for a in typing.get_args(ann))) if typing.get_args(ann) else set()

    return literals(TaxId.__annotations__.get("type")) or {"eu_vat", "gb_vat", "us_ein", "au_abn"}


TYPES = frozenset(_sdk_types())


def register(em: Emulator) -> None:
    r = em.router
    r.add("POST", "/v1/customers/{customer}/tax_ids", create)
    r.add("GET", "/v1/customers/{customer}/tax_ids", list_)
    r.add("GET", "/v1/customers/{customer}/tax_ids/{id}", retrieve)
    r.add("DELETE", "/v1/customers/{customer}/tax_ids/{id}", delete)


def validate(kind: str, value: str) -> tuple[str | None, str]:
    """(country, normalized value) for a tax ID, or the 400 Stripe answers."""
    compact = re.sub(r"\s+", "", value).upper()
    if kind == "eu_vat":
        prefix, rest = compact[:2], compact[2:]
        rx = _EU_VAT.get(prefix)
        if rx is None or not re.fullmatch(rx, rest):
            raise _bad(kind)
        return _EU_COUNTRY.get(prefix, prefix), compact
    if kind in _FORMATS:
        country, rx = _FORMATS[kind]
        if not re.fullmatch(rx, compact):
            raise _bad(kind)
        return country, compact
    if not re.fullmatch(r"[0-9A-Z][0-9A-Z./\-]{1,39}", compact):
        raise _bad(kind)
    prefix = kind.split("_", 1)[0].upper()
    return (prefix if len(prefix) == 2 else None), compact


def _bad(kind: str) -> StripeError:
    return StripeError(f"Invalid value for {kind}.", param="value", code="tax_id_invalid")


def _customer(em: Emulator, req: Request) -> dict[str, Any]:
    return em.store.get("customer", req.args["customer"], param="customer")


def create(em: Emulator, req: Request) -> dict[str, Any]:
    cust = _customer(em, req)
    p = req.params
    kind = p.str("type", required=True)
    if kind not in TYPES:
        raise invalid(f"Invalid type: {kind} is not a tax ID type Stripe supports.", "type")
    value = p.str("value", required=True, max_length=200)
    p.done()
    country, normalized = validate(kind, value)
    existing = [t for t in em.store.all("tax_id") if t["customer"] == cust["id"]]
    if len(existing) >= MAX_PER_CUSTOMER:
        raise invalid(f"A customer can have at most {MAX_PER_CUSTOMER} tax IDs.", "value")
    verifiable = kind in VERIFIED_TYPES
    tax_id = {
        "id": new_id("txi", 24), "object": "tax_id", "country": country, "created": em.now(cust),
        "customer": cust["id"], "customer_account": None, "livemode": False,
        "owner": {"customer": cust["id"], "customer_account": None, "type": "customer"},
        "type": kind, "value": normalized,
        "verification": {"status": "pending" if verifiable else "unavailable", "verified_address": None,
                         "verified_name": None},
    }
    em.store.insert(tax_id)
    em.emit("customer.tax_id.created", tax_id, request=req)
    answer = copy.deepcopy(tax_id)
    if verifiable:
        digits = re.sub(r"\D", "", normalized)
        ok = not digits.endswith(UNVERIFIED_SUFFIX)
        verification = {"status": "verified" if ok else "unverified",
                        "verified_address": None, "verified_name": cust.get("name") if ok else None}
        previous = em.update(tax_id, {"verification": verification})
        em.emit("customer.tax_id.updated", tax_id, previous, request=req)
    return answer


def _get(em: Emulator, req: Request, cust: dict[str, Any]) -> dict[str, Any]:
    tax_id = em.store.find(req.args["id"])
    if tax_id is None or tax_id.get("object") != "tax_id" or tax_id["customer"] != cust["id"]:
        raise missing("tax_id", req.args["id"])
    return tax_id


def retrieve(em: Emulator, req: Request) -> dict[str, Any]:
    cust = _customer(em, req)
    req.params.done()
    return _get(em, req, cust)


def list_(em: Emulator, req: Request) -> dict[str, Any]:
    cust = _customer(em, req)
    items = [t for t in em.store.all("tax_id") if t["customer"] == cust["id"]]
    return em.store.page(req.params, items, f"/v1/customers/{cust['id']}/tax_ids")


def delete(em: Emulator, req: Request) -> dict[str, Any]:
    cust = _customer(em, req)
    req.params.done()
    tax_id = _get(em, req, cust)
    em.store.delete(tax_id["id"])
    em.emit("customer.tax_id.deleted", tax_id, request=req)
    return {"id": tax_id["id"], "object": "tax_id", "deleted": True}


def for_invoice(em: Emulator, customer: str) -> list[dict[str, str]]:
    """The customer's tax IDs as an invoice lists them (``customer_tax_ids``)."""
    return [{"type": t["type"], "value": t["value"]} for t in em.store.all("tax_id") if t["customer"] == customer]
