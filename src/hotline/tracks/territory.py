"""Whose land or waters a point (an impact point) falls in.

Data: Natural Earth 1:50m admin-0 country polygons (public domain) via world-atlas 2.0.2 (ISC),
converted once by ``scripts/build_territory.py`` into ``data/territory.npz`` (licences in
``data/LICENSES.md``). Nations are ISO 3166-1 alpha-3 codes. Boundaries are Natural Earth's
de facto lines at 1:50 million (vertices every few kilometres, about 0.4 km quantisation);
islets smaller than that scale are absent.

Approximation of maritime zones (UNCLOS 1982 arts. 3, 15, 57, 74), documented as such:

* **land**: inside a country's polygon (even-odd rule over its rings);
* **territorial_sea**: at sea within 12 nmi (22.224 km) of the country's coastline;
* **eez**: at sea within 200 nmi (370.4 km) of its coastline;
* where zones of several countries overlap (the Sea of Japan between Japan and Korea), the
  point goes to the country with the nearest coastline: the equidistance (median) line that
  UNCLOS art. 15 uses for territorial seas and that most EEZ delimitations start from. Real
  baselines (straight baselines, low-tide elevations), negotiated boundaries and disputed
  islands are not modelled.

"Coastline" is every polygon edge not shared with another country (shared edges are land
borders). Distances are on the IUGG mean sphere: candidate coast segments near the point (a
1-degree grid index) are projected onto the tangent plane at the point, where the distance to a
segment at 370 km is off by less than 0.06 %.

Land is found by the even-odd rule with a ray along the point's parallel, to the east or the
west, whichever meets fewer edges (edges are indexed by 1-degree latitude band, sorted by their
longitude extent). The nearest coast is looked for within ``NEAR_M`` of the point first, then
out to the EEZ's 200 nmi.

The table is package data read once, lazily (``load_territory``); queries are pure. Their cost
is in ``hotline bench tracks`` ("territory of an impact point": about 0.1 ms).
"""

from __future__ import annotations

import enum
import functools
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

from hotline.tracks.geodesy import MEAN_RADIUS_M

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

NMI_M: Final = 1852.0
TERRITORIAL_SEA_M: Final = 12 * NMI_M
EEZ_M: Final = 200 * NMI_M
_CELL_DEG: Final = 1.0
#: ``nearest_coast`` looks this near the point first (most impact points of interest are).
NEAR_M: Final = 100_000.0


class Zone(enum.StrEnum):
    LAND = "land"
    TERRITORIAL_SEA = "territorial_sea"
    EEZ = "eez"


@dataclass(frozen=True, slots=True)
class Territory:
    """``nation`` (ISO alpha-3 of the sovereign) whose ``zone`` holds the point; ``unit``: the
    ISO alpha-3 of the area itself (``GUM`` for Guam, nation ``USA``); ``coast_km``: distance to
    that unit's nearest coastline (0 on land)."""

    nation: str
    zone: Zone
    coast_km: float
    unit: str


def _decode(dxy: NDArray[np.int32], start: I64, scale: F64, translate: F64) -> F64:
    """Per-part delta-encoded quantised points back to ``(n, 2)`` lon, lat degrees."""
    cum = np.cumsum(dxy.astype(np.int64), axis=0)
    before = np.vstack([np.zeros((1, 2), np.int64), cum])[start[:-1]]
    absolute = cum - np.repeat(before, np.diff(start), axis=0)
    out: F64 = absolute * scale + translate
    return out


def _unit(lon_deg: F64, lat_deg: F64) -> F64:
    lon, lat = np.radians(lon_deg), np.radians(lat_deg)
    out: F64 = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1)
    return out


class TerritoryIndex:
    """Country polygons and coastlines with the indexes the queries need."""

    def __init__(self, path: Path | None = None) -> None:
        if path is None:
            with resources.as_file(
                resources.files("hotline.tracks") / "data" / "territory.npz"
            ) as p:
                data = dict(np.load(p, allow_pickle=False))
        else:
            data = dict(np.load(path, allow_pickle=False))
        scale, translate = data["scale"], data["translate"]
        self.iso3: list[str] = [str(s) for s in data["iso3"]]
        self.sovereign: list[str] = [str(s) for s in data["sovereign"]]
        # Rings: edges (x1, y1, x2, y2) with their ring, and per-ring bounding boxes.
        ring_start = data["ring_start"]
        pts = _decode(data["ring_dxy"], ring_start, scale, translate)
        self.ring_country: I64 = data["ring_country"].astype(np.int64)
        n_rings = ring_start.size - 1
        ring_of_pt = np.repeat(np.arange(n_rings), np.diff(ring_start))
        first_idx = ring_start[:-1]
        nxt = np.arange(1, pts.shape[0] + 1)
        nxt[ring_start[1:] - 1] = first_idx  # close each ring
        self.edge_a: F64 = pts
        self.edge_b: F64 = pts[nxt]
        self.edge_ring: I64 = ring_of_pt
        # Latitude bands of 1 degree: the edges whose latitude span meets each band (CSR).
        y_lo = np.minimum(self.edge_a[:, 1], self.edge_b[:, 1])
        y_hi = np.maximum(self.edge_a[:, 1], self.edge_b[:, 1])
        b0 = np.clip(np.floor(y_lo + 90.0).astype(np.int64), 0, 179)
        b1 = np.clip(np.floor(y_hi + 90.0).astype(np.int64), 0, 179)
        span = b1 - b0 + 1
        band = np.repeat(b0, span) + (
            np.arange(int(span.sum())) - np.repeat(np.cumsum(span) - span, span)
        )
        owner = np.repeat(np.arange(b0.size), span)
        # Within each band the edges twice: by their eastmost longitude (a ray cast to the east
        # meets only a suffix) and by their westmost (a ray to the west: a prefix).
        x_lo = np.minimum(self.edge_a[:, 0], self.edge_b[:, 0])
        x_hi = np.maximum(self.edge_a[:, 0], self.edge_b[:, 0])
        by_east = np.lexsort((x_hi[owner], band))
        by_west = np.lexsort((x_lo[owner], band))
        self.band_start: I64 = np.searchsorted(band[by_east], np.arange(181)).astype(np.int64)
        self.band_east: I64 = owner[by_east]
        self.band_east_x: F64 = x_hi[self.band_east]
        self.band_west: I64 = owner[by_west]
        self.band_west_x: F64 = x_lo[self.band_west]
        # Coast segments as unit vectors, with a 1-degree grid index (CSR over cells).
        coast_start = data["coast_start"]
        cpts = _decode(data["coast_dxy"], coast_start, scale, translate)
        line_of_pt = np.repeat(np.arange(coast_start.size - 1), np.diff(coast_start))
        seg = np.flatnonzero(np.diff(line_of_pt) == 0)  # point i -> i + 1 in the same line
        self.seg_country: I64 = data["coast_country"].astype(np.int64)[line_of_pt[seg]]
        self.seg_a: F64 = _unit(cpts[seg, 0], cpts[seg, 1])
        self.seg_b: F64 = _unit(cpts[seg + 1, 0], cpts[seg + 1, 1])
        lon1, lon2 = cpts[seg, 0], cpts[seg + 1, 0]
        lat1, lat2 = cpts[seg, 1], cpts[seg + 1, 1]
        cells: list[I64] = []
        owners: list[I64] = []
        c0 = np.floor((np.minimum(lon1, lon2) + 180.0) / _CELL_DEG).astype(np.int64)
        c1 = np.floor((np.maximum(lon1, lon2) + 180.0) / _CELL_DEG).astype(np.int64)
        r0 = np.floor((np.minimum(lat1, lat2) + 90.0) / _CELL_DEG).astype(np.int64)
        r1 = np.floor((np.maximum(lat1, lat2) + 90.0) / _CELL_DEG).astype(np.int64)
        self.n_cols = round(360.0 / _CELL_DEG)
        self.n_rows = round(180.0 / _CELL_DEG)
        for dr in range(int((r1 - r0).max()) + 1):
            for dc in range(int((c1 - c0).max()) + 1):
                ok = (r0 + dr <= r1) & (c0 + dc <= c1)
                idx = np.flatnonzero(ok)
                rows = np.clip(r0[idx] + dr, 0, self.n_rows - 1)
                cols = (c0[idx] + dc) % self.n_cols
                cells.append(rows * self.n_cols + cols)
                owners.append(idx)
        cell = np.concatenate(cells)
        owner = np.concatenate(owners)
        order = np.argsort(cell, kind="stable")
        self.cell_seg: I64 = owner[order]
        self.cell_start: I64 = np.searchsorted(
            cell[order], np.arange(self.n_rows * self.n_cols + 1)
        ).astype(np.int64)

    # ------------------------------------------------------------------ queries

    def land_of(self, lat: float, lon: float) -> int | None:
        """Index of the country whose polygon holds the point, or None (even-odd rule: a ray
        to the east crosses each ring's edges; odd over a country's rings means inside). Rings
        across the antimeridian are stored unwrapped (longitudes past 180), so a western
        longitude is tried again shifted by 360 degrees."""
        hit = self._land_of(lat, lon)
        if hit is None and lon < -170.0:
            hit = self._land_of(lat, lon + 360.0)
        return hit

    def _land_of(self, lat: float, lon: float) -> int | None:
        k = min(max(math.floor(lat + 90.0), 0), 179)
        lo, hi = int(self.band_start[k]), int(self.band_start[k + 1])
        # The ray goes east or west, whichever meets fewer edges: a closed ring crosses the
        # whole parallel an even number of times, so both give the same parity.
        e = lo + int(np.searchsorted(self.band_east_x[lo:hi], lon, side="right"))
        w = lo + int(np.searchsorted(self.band_west_x[lo:hi], lon, side="left"))
        east = hi - e <= w - lo
        idx = self.band_east[e:hi] if east else self.band_west[lo:w]
        a, b = self.edge_a[idx], self.edge_b[idx]
        straddle = (a[:, 1] > lat) != (b[:, 1] > lat)
        if not straddle.any():
            return None
        a, b, idx = a[straddle], b[straddle], idx[straddle]
        x_cross = a[:, 0] + (lat - a[:, 1]) * (b[:, 0] - a[:, 0]) / (b[:, 1] - a[:, 1])
        rings = self.edge_ring[idx[(lon < x_cross) if east else (x_cross < lon)]]
        if rings.size == 0:
            return None
        odd = np.flatnonzero(np.bincount(rings) % 2)
        per_country = np.bincount(self.ring_country[odd]) % 2
        hits = np.flatnonzero(per_country)
        return int(hits[0]) if hits.size else None

    def coast_distances(self, lat: float, lon: float, radius_m: float) -> tuple[I64, F64]:
        """Countries with coastline within ``radius_m`` of the point and their distances (m)."""
        segs = self._segments_near(lat, lon, radius_m)
        if segs.size == 0:
            return np.zeros(0, np.int64), np.zeros(0)
        d = self._distances(lat, lon, segs)
        order = np.lexsort((d, self.seg_country[segs]))
        country = self.seg_country[segs][order]
        first = np.flatnonzero(np.diff(country, prepend=-1))  # the nearest segment of each
        who, dist = country[first], d[order][first]
        keep = dist <= radius_m
        return who[keep], dist[keep]

    def nearest_coast(self, lat: float, lon: float, radius_m: float) -> tuple[int, float] | None:
        """The country with the nearest coastline within ``radius_m`` and its distance (m), or
        None: the nearest entry of ``coast_distances`` (ties to the lower country index).

        Looks near the point first (``NEAR_M``): a coast found there within that distance is
        the nearest of all, since every segment at most that far lies in the cells searched."""
        if radius_m > NEAR_M:
            near = self._nearest_of(lat, lon, self._segments_near(lat, lon, NEAR_M))
            if near is not None and near[1] <= NEAR_M:
                return near
        found = self._nearest_of(lat, lon, self._segments_near(lat, lon, radius_m))
        return found if found is not None and found[1] <= radius_m else None

    def _nearest_of(self, lat: float, lon: float, segs: I64) -> tuple[int, float] | None:
        if segs.size == 0:
            return None
        d = self._distances(lat, lon, segs)
        best = float(d.min())
        if best == math.inf:
            return None
        return int(self.seg_country[segs[d == best]].min()), best

    def _distances(self, lat: float, lon: float, segs: I64) -> F64:
        """Distance (m) from the point to each segment in the tangent plane at the point (inf
        for a segment on the far hemisphere: the projection folds it)."""
        sin_lat, cos_lat = math.sin(math.radians(lat)), math.cos(math.radians(lat))
        sin_lon, cos_lon = math.sin(math.radians(lon)), math.cos(math.radians(lon))
        # The point's unit vector, then east and north (scaled to metres) as the plane's axes.
        p = np.array([cos_lat * cos_lon, cos_lat * sin_lon, sin_lat])
        basis = (
            MEAN_RADIUS_M
            * np.array(
                [[-sin_lon, cos_lon, 0.0], [-sin_lat * cos_lon, -sin_lat * sin_lon, cos_lat]]
            ).T
        )  # (3, 2)
        sa = self.seg_a[segs]
        a = sa @ basis
        ab = self.seg_b[segs] @ basis
        ab -= a
        den = np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-300)  # 0 only where ab is 0
        s = np.clip(np.einsum("ij,ij->i", a, ab) / -den, 0.0, 1.0)
        a += s[:, None] * ab
        d: F64 = np.hypot(a[:, 0], a[:, 1])
        d[(sa @ p) <= 0.0] = np.inf
        return d

    def _segments_near(self, lat: float, lon: float, radius_m: float) -> I64:
        """The coast segments indexed in the grid cells that may hold coast within
        ``radius_m`` of the point (a segment may appear more than once). The cells of a row
        are consecutive in the index, so each row (each side of the antimeridian) is a slice."""
        # 1 % margin: the distances are measured in the tangent plane, not along the sphere.
        dlat = math.degrees(radius_m * 1.01 / MEAN_RADIUS_M)
        lat0, lat1 = max(lat - dlat, -90.0), min(lat + dlat, 89.999999)
        coslat = math.cos(math.radians(min(abs(lat) + dlat, 90.0)))
        dlon = 180.0 if coslat < 1e-6 else min(180.0, dlat / coslat)
        c0 = math.floor((lon - dlon + 180.0) / _CELL_DEG)
        c1 = math.floor((lon + dlon + 180.0) / _CELL_DEG)
        n = self.n_cols
        if c1 - c0 + 1 >= n:
            spans = [(0, n - 1)]
        elif c0 < 0:
            spans = [(c0 + n, n - 1), (0, c1)]
        elif c1 >= n:
            spans = [(c0, n - 1), (0, c1 - n)]
        else:
            spans = [(c0, c1)]
        start, seg = self.cell_start, self.cell_seg
        parts = [
            seg[start[row * n + lo] : start[row * n + hi + 1]]
            for row in range(int((lat0 + 90.0) // _CELL_DEG), int((lat1 + 90.0) // _CELL_DEG) + 1)
            for lo, hi in spans
        ]
        return np.concatenate(parts)

    def territory_of(self, lat: float, lon: float) -> Territory | None:
        """See the module docstring. ``lat`` in [-90, 90], ``lon`` in degrees (wrapped)."""
        if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90.0:
            raise ValueError(f"territory_of: ({lat!r}, {lon!r}) is not a latitude, longitude")
        lon = (lon + 180.0) % 360.0 - 180.0
        land = self.land_of(lat, lon)
        if land is not None:
            return Territory(self.sovereign[land], Zone.LAND, 0.0, self.iso3[land])
        nearest = self.nearest_coast(lat, lon, EEZ_M)
        if nearest is None:
            return None
        c, dist = nearest
        zone = Zone.TERRITORIAL_SEA if dist <= TERRITORIAL_SEA_M else Zone.EEZ
        return Territory(self.sovereign[c], zone, dist / 1000.0, self.iso3[c])


@functools.cache
def load_territory() -> TerritoryIndex:
    """The vendored table, loaded once (about 0.3 s)."""
    return TerritoryIndex()


def territory_of(lat: float, lon: float) -> Territory | None:
    """Nation and zone (land, territorial sea, EEZ) of a point, or None (high seas)."""
    return load_territory().territory_of(lat, lon)
