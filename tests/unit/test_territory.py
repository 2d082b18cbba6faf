"""Territory of a point: land, 12 nmi territorial sea, 200 nmi EEZ, nearest-coast rule."""

from __future__ import annotations

import numpy as np
import pytest

from hotline.tracks.territory import (
    EEZ_M,
    NEAR_M,
    TERRITORIAL_SEA_M,
    Territory,
    TerritoryIndex,
    Zone,
    load_territory,
    territory_of,
)


@pytest.mark.parametrize(
    ("name", "lat", "lon", "nation"),
    [
        ("Tokyo", 35.68, 139.69, "JPN"),
        ("Seoul", 37.57, 126.98, "KOR"),
        ("Pyongyang", 39.02, 125.75, "PRK"),
        ("Beijing", 39.90, 116.40, "CHN"),
        ("Vladivostok", 43.12, 131.90, "RUS"),
        ("Honolulu", 21.30, -157.85, "USA"),
        ("Anchorage", 61.20, -149.90, "USA"),
        ("Jeju", 33.30, 126.20, "KOR"),
    ],
)
def test_cities_are_on_their_nations_land(name: str, lat: float, lon: float, nation: str) -> None:
    assert territory_of(lat, lon) == Territory(nation, Zone.LAND, 0.0, nation), name


def test_five_nautical_miles_off_the_japanese_coast_is_japans_territorial_sea() -> None:
    # About 5 nmi east of Cape Inubo (Choshi), Chiba.
    t = territory_of(35.70, 140.97)
    assert t is not None
    assert (t.nation, t.zone) == ("JPN", Zone.TERRITORIAL_SEA)
    assert 5 * 1.852 * 0.8 < t.coast_km < 5 * 1.852 * 1.2


def test_further_out_is_the_eez_then_the_high_seas() -> None:
    t = territory_of(36.0, 141.5)  # ~35 nmi off Ibaraki
    assert t is not None and (t.nation, t.zone) == ("JPN", Zone.EEZ)
    assert TERRITORIAL_SEA_M < t.coast_km * 1000.0 < EEZ_M
    assert territory_of(20.0, -150.0) is None  # mid Pacific
    assert territory_of(0.0, 0.0) is None  # Gulf of Guinea, > 200 nmi out


def test_overlapping_zones_go_to_the_nearest_coast() -> None:
    index = load_territory()
    for lat, lon, nation in [
        (35.05, 129.20, "KOR"),  # off Busan
        (34.55, 129.55, "JPN"),  # off Tsushima
        (37.50, 134.50, "JPN"),
        (37.00, 132.00, "KOR"),
    ]:
        t = territory_of(lat, lon)
        assert t is not None and t.nation == nation
        who, dist = index.coast_distances(lat, lon, EEZ_M)
        assert index.iso3[int(who[np.argmin(dist)])] == t.unit
        assert len(who) >= 2  # the zones really overlap there


def test_dependent_territory_belongs_to_its_sovereign() -> None:
    guam = territory_of(13.45, 144.78)
    assert guam == Territory("USA", Zone.LAND, 0.0, "GUM")
    off = territory_of(13.30, 144.60)
    assert off is not None and (off.nation, off.zone, off.unit) == (
        "USA",
        Zone.TERRITORIAL_SEA,
        "GUM",
    )


def test_antimeridian() -> None:
    # Wrangel Island straddles 180 degrees; both halves are land.
    for lon in (179.5, -179.9):
        t = territory_of(71.2, lon)
        assert t is not None and (t.nation, t.zone) == ("RUS", Zone.LAND)
    assert territory_of(71.2, 180.0 + 360.0 - 0.5) == territory_of(71.2, 179.5)


def test_bad_coordinates_raise() -> None:
    with pytest.raises(ValueError, match="latitude"):
        territory_of(91.0, 0.0)
    with pytest.raises(ValueError):
        territory_of(float("nan"), 0.0)


def _land_by_every_edge(index: TerritoryIndex, lat: float, lon: float) -> int | None:
    """The even-odd rule over every edge of the table, a ray to the east (no band index)."""
    a, b = index.edge_a, index.edge_b
    straddle = (a[:, 1] > lat) != (b[:, 1] > lat)
    a, b, ring = a[straddle], b[straddle], index.edge_ring[straddle]
    x_cross = a[:, 0] + (lat - a[:, 1]) * (b[:, 0] - a[:, 0]) / (b[:, 1] - a[:, 1])
    rings = ring[lon < x_cross]
    odd = np.flatnonzero(np.bincount(rings, minlength=index.ring_country.size) % 2)
    hits = np.flatnonzero(np.bincount(index.ring_country[odd]) % 2)
    return int(hits[0]) if hits.size else None


def _points(seed: int, n: int) -> list[tuple[float, float]]:
    """Random points: half anywhere on the sphere, half over Northeast Asia's coasts."""
    rng = np.random.default_rng(seed)
    world = np.stack(
        [np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n))), rng.uniform(-180.0, 180.0, n)], -1
    )
    asia = np.stack([rng.uniform(25.0, 45.0, n), rng.uniform(120.0, 145.0, n)], -1)
    return [(float(p[0]), float(p[1])) for p in np.concatenate([world, asia])]


def test_a_ray_east_or_west_finds_the_land_every_edge_finds() -> None:
    # The band index casts its ray to whichever side meets fewer edges.
    index = load_territory()
    points = _points(3, 300)
    found = [index._land_of(lat, lon) for lat, lon in points]
    assert found == [_land_by_every_edge(index, lat, lon) for lat, lon in points]
    assert sum(f is not None for f in found) > 100  # the sample holds land and sea


def test_the_nearest_coast_is_the_nearest_of_all_coast_distances() -> None:
    # Looking near the point first must not change which coast is the nearest.
    index = load_territory()
    near = far = 0
    for lat, lon in _points(4, 400):
        who, dist = index.coast_distances(lat, lon, EEZ_M)
        got = index.nearest_coast(lat, lon, EEZ_M)
        if who.size == 0:
            assert got is None
            continue
        k = int(np.argmin(dist))
        assert got is not None
        assert got[0] == int(who[k]) and got[1] == pytest.approx(float(dist[k]), abs=1e-6)
        near += got[1] <= NEAR_M
        far += got[1] > NEAR_M
    assert near > 50 and far > 50  # both ways through the search were taken
