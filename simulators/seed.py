"""Deterministic seed data helpers shared by the simulators.

Every generator takes an explicit ``random.Random`` derived from (seed, namespace), so adding a
new entity set to one simulator never shifts the values of another entity set: tests that pin a
vendor's name keep passing when a later pass seeds items or invoices.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass

# A fixed namespace so uuid5-derived ids stay the same across runs and machines.
SIM_NAMESPACE = uuid.UUID("6f0b7a52-3f1e-4c55-9d0a-5b2c1c7e9a10")


def rng_for(seed: int, namespace: str) -> random.Random:
    """One independent random stream per (seed, namespace)."""
    digest = hashlib.sha256(f"{seed}:{namespace}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def stable_guid(*parts: object) -> str:
    """A GUID that depends only on ``parts`` (for ids users may put in config files)."""
    return str(uuid.uuid5(SIM_NAMESPACE, ":".join(str(p) for p in parts)))


def random_guid(rng: random.Random) -> str:
    """A version-4-shaped GUID drawn from ``rng`` (lower case, as BC renders them)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def random_sys_id(rng: random.Random) -> str:
    """32 lower-case hex digits, the shape of a ServiceNow sys_id."""
    return f"{rng.getrandbits(128):032x}"


@dataclass(frozen=True)
class Address:
    street: str
    city: str
    state: str
    postal_code: str
    country: str


_COMPANY_WORDS = (
    "Fabrikam",
    "Contoso",
    "Northwind",
    "Tailspin",
    "Litware",
    "Adatum",
    "Proseware",
    "Wingtip",
    "Lucerne",
    "Graphic Design",
    "Wide World",
    "Alpine Ski",
    "Coho",
    "Humongous",
    "Margie's",
    "Trey Research",
    "Woodgrove",
    "Blue Yonder",
    "Fourth Coffee",
    "Relecloud",
)
_COMPANY_SUFFIXES = ("Inc.", "LLC", "Supply Co.", "Industries", "Partners", "Ltd.", "Group")
_STREETS = ("Main St", "Oak Ave", "Pine Rd", "Lake Blvd", "Market St", "Elm St", "Cedar Ln")
_CITIES = (
    ("Atlanta", "GA", "30301"),
    ("Chicago", "IL", "60601"),
    ("Seattle", "WA", "98101"),
    ("Denver", "CO", "80201"),
    ("Boston", "MA", "02108"),
    ("Austin", "TX", "73301"),
    ("Miami", "FL", "33101"),
)


def company_name(rng: random.Random) -> str:
    return f"{rng.choice(_COMPANY_WORDS)} {rng.choice(_COMPANY_SUFFIXES)}"


def address(rng: random.Random) -> Address:
    city, state, postal_code = rng.choice(_CITIES)
    street = f"{rng.randint(1, 9999)} {rng.choice(_STREETS)}"
    return Address(street=street, city=city, state=state, postal_code=postal_code, country="US")


def phone_number(rng: random.Random) -> str:
    return f"{rng.randint(200, 989)}555{rng.randint(0, 9999):04d}"


def email_for(name: str, index: int) -> str:
    slug = "".join(ch for ch in name.lower() if ch.isalnum())[:16] or "vendor"
    return f"ap{index}@{slug}.example.com"


def tax_id(rng: random.Random) -> str:
    return f"{rng.randint(10, 99)}-{rng.randint(1000000, 9999999)}"
