"""Known AWS regions and their AZs as the emulators model them."""
from __future__ import annotations

from pytest_drtest.errors import DrConfigError

#: Regions the harness accepts, with the AZ letters moto 5.2 offers there.
REGION_AZS: dict[str, str] = {
    "us-east-1": "abcdef",
    "us-east-2": "abc",
    "us-west-1": "ab",
    "us-west-2": "abcd",
    "ca-central-1": "abd",
    "eu-west-1": "abc",
    "eu-west-2": "abc",
    "eu-central-1": "abc",
    "eu-north-1": "abc",
    "ap-southeast-1": "abc",
    "ap-southeast-2": "abc",
    "ap-northeast-1": "acd",
    "ap-south-1": "abc",
    "sa-east-1": "abc",
}


def check_region(region: object, *, source: str | None = None, field: str = "region") -> str:
    if not isinstance(region, str) or region not in REGION_AZS:
        raise DrConfigError(
            f"unknown region {region!r}; expected one of: {', '.join(REGION_AZS)}", source=source, field=field
        )
    return region


def check_region_pair(primary: object, dr: object, *, source: str | None = None) -> tuple[str, str]:
    """Validate the primary and DR regions: both known, and different."""
    p = check_region(primary, source=source, field="regions.primary")
    d = check_region(dr, source=source, field="regions.dr")
    if p == d:
        raise DrConfigError(
            f"the DR region must differ from the primary region (both are {p!r})", source=source, field="regions.dr"
        )
    return p, d


def zones(region: str, count: int = 3) -> list[str]:
    """The first ``count`` AZ names of ``region``."""
    letters = REGION_AZS[region][:count]
    return [f"{region}{letter}" for letter in letters]
