"""Candidate time zones of a contact: from an explicit column, else from the phone number.

phonenumbers answers per number prefix. When it can only answer for a whole calling code (a
non-geographic number type, such as a Caribbean mobile or a toll-free number, gets every zone of
every region sharing +1: Guam to Adak) or not at all (`Etc/Unknown`), campaigner uses the zones of
the number's own region from the IANA `zone.tab` instead: still conservative, but callable. A number
for which neither gives a zone (satellite and other non-geographic entities) has no candidates.
"""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from functools import cache
from importlib import resources

from phonenumbers.timezone import UNKNOWN_TIMEZONE
from phonenumbers.tzdata import TIMEZONE_DATA

__all__ = ["canonical_zone", "effective_zones", "region_zones"]

Zones = tuple[str, ...]


@cache
def _zones_by_region() -> dict[str, Zones]:
    table = (resources.files("tzdata") / "zoneinfo" / "zone.tab").read_text(encoding="utf-8")
    zones: defaultdict[str, list[str]] = defaultdict(list)
    for line in table.splitlines():
        if line and not line.startswith("#"):
            region, _coordinates, zone, *_comment = line.split("\t")
            zones[region].append(zone)
    return {region: tuple(sorted(names)) for region, names in zones.items()}


def region_zones(region: str | None) -> Zones:
    """The IANA zones of an ISO 3166 region (`()` for None or a region without zones)."""
    if region is None:
        return ()
    return _zones_by_region().get(region, ())


def effective_zones(phonenumbers_zones: Zones, country_code: int, region: str | None) -> Zones:
    """The candidate zones campaigner keeps, given phonenumbers' answer for a valid number.

    A prefix-level answer is kept as is; a calling-code-level or unknown answer is replaced by the
    region's zones when the region has any; an unknown answer without region zones gives `()`.
    """
    calling_code_level = TIMEZONE_DATA.get(str(country_code))
    unknown = phonenumbers_zones == (UNKNOWN_TIMEZONE,)
    if unknown or phonenumbers_zones == calling_code_level:
        return region_zones(region) or (() if unknown else phonenumbers_zones)
    return phonenumbers_zones


@cache
def _zones_by_folded_name() -> dict[str, str]:
    return {name.casefold(): name for name in zoneinfo.available_timezones()}


def canonical_zone(text: str) -> str | None:
    """The IANA zone named by `text` (case-insensitive, surrounding spaces ignored), else None."""
    return _zones_by_folded_name().get(text.strip().casefold())
