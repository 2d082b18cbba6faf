#!/usr/bin/env python3
"""Build ``src/hotline/tracks/data/territory.npz`` from Natural Earth country polygons.

Source: the npm package world-atlas 2.0.2 (ISC licence; Natural Earth 1:50m admin-0 countries,
public domain), a TopoJSON topology: quantised, delta-encoded arcs shared between neighbouring
countries. Country ids there are ISO 3166-1 numeric codes; they are mapped to alpha-3 with
Debian's iso-codes table (``/usr/share/iso-codes/json/iso_3166-1.json``) plus a few
Natural Earth units without a code (below, ISO's de jure view).

Output arrays (``numpy.savez_compressed``, no pickles):

* ``iso3 (C,)``, ``sovereign (C,)``, ``name (C,)``: the countries (``sovereign`` differs
  from ``iso3`` for dependent territories such as Guam -> USA);
* ``ring_dxy (V, 2) int32``, ``ring_start (R + 1,)``, ``ring_country (R,)``: polygon rings
  (outer rings and holes; even-odd parity over a country's rings gives "inside"), quantised
  and delta-encoded within each ring (the first point of a ring is absolute); a ring crossing
  the antimeridian is unwrapped (longitudes beyond 180);
* ``coast_dxy (W, 2) int32``, ``coast_start (A + 1,)``, ``coast_country (A,)``: coastlines,
  i.e. the arcs used by exactly one country (an arc shared by two countries is a land border),
  without the artificial edges Natural Earth has along the antimeridian and the south pole;
* ``scale (2,)``, ``translate (2,)``: ``lon, lat = xy * scale + translate`` (degrees).

Usage (once, then commit the output)::

    cd /tmp && npm install world-atlas@2.0.2 topojson-client@3.1.0
    .venv/bin/python scripts/build_territory.py /tmp/node_modules/world-atlas/countries-50m.json
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ISO_TABLE = Path("/usr/share/iso-codes/json/iso_3166-1.json")
OUT = Path(__file__).resolve().parent.parent / "src/hotline/tracks/data/territory.npz"
#: Natural Earth units that world-atlas leaves without an ISO numeric id.
NO_ID = {
    "Kosovo": "XKX",  # user-assigned code in common use (EU, IMF)
    "N. Cyprus": "CYP",  # ISO view: part of Cyprus
    "Somaliland": "SOM",  # ISO view: part of Somalia
    "Indian Ocean Ter.": "AUS",  # Christmas and Cocos (Keeling) Islands
    "Siachen Glacier": "IND",  # administered by India
}


#: Dependent territories (ISO codes of their own) -> sovereign nation, for "whose waters".
SOVEREIGN = {
    **dict.fromkeys(["GUM", "PRI", "ASM", "MNP", "VIR", "UMI"], "USA"),
    **dict.fromkeys(["HKG", "MAC"], "CHN"),
    **dict.fromkeys(["GRL", "FRO"], "DNK"),
    **dict.fromkeys(["NCL", "PYF", "WLF", "SPM", "BLM", "MAF", "ATF"], "FRA"),
    **dict.fromkeys(
        [
            "BMU",
            "CYM",
            "FLK",
            "GGY",
            "JEY",
            "IMN",
            "MSR",
            "PCN",
            "SHN",
            "SGS",
            "TCA",
            "VGB",
            "AIA",
            "IOT",
        ],
        "GBR",
    ),
    **dict.fromkeys(["ABW", "CUW", "SXM"], "NLD"),
    **dict.fromkeys(["COK", "NIU"], "NZL"),
    **dict.fromkeys(["NFK", "HMD"], "AUS"),
    "ALA": "FIN",
}


def iso_numeric_to_alpha3(path: Path) -> dict[int, str]:
    rows = json.loads(path.read_text())["3166-1"]
    return {int(r["numeric"]): r["alpha_3"] for r in rows}


def decode_arcs(topo: dict[str, Any]) -> list[np.ndarray]:
    """Absolute quantised ``(n, 2) int64`` coordinates of every arc."""
    return [np.cumsum(np.array(arc, dtype=np.int64), axis=0) for arc in topo["arcs"]]


def arc_points(arcs: list[np.ndarray], i: int) -> np.ndarray:
    return arcs[i] if i >= 0 else arcs[~i][::-1]


def ring_of(arcs: list[np.ndarray], refs: list[int]) -> np.ndarray:
    parts = [arc_points(arcs, i) if k == 0 else arc_points(arcs, i)[1:] for k, i in enumerate(refs)]
    return np.concatenate(parts)


def polygons(geom: dict[str, Any]) -> list[list[list[int]]]:
    if geom["type"] == "Polygon":
        return [list(geom["arcs"])]
    if geom["type"] == "MultiPolygon":
        return list(geom["arcs"])
    return []


def artificial(xy: np.ndarray, scale: np.ndarray, translate: np.ndarray) -> np.ndarray:
    """Per segment: True if it runs along the antimeridian or the south pole (cut edges)."""
    lon = xy[:, 0] * scale[0] + translate[0]
    lat = xy[:, 1] * scale[1] + translate[1]
    on_180 = np.abs(lon) > 179.99
    at_pole = lat < -89.9
    out: np.ndarray = (on_180[:-1] & on_180[1:]) | (at_pole[:-1] & at_pole[1:])
    return out


def unwrap(xy: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """A ring or line that jumps across the antimeridian gets its western longitudes shifted by
    +360 degrees, so it is contiguous in the plane (longitudes up to ~190)."""
    full = round(360.0 / scale[0])
    if xy.shape[0] < 2 or np.abs(np.diff(xy[:, 0])).max() <= full // 2:
        return xy
    out = xy.copy()
    out[out[:, 0] < full // 2, 0] += full
    return out


def delta(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.diff(p, axis=0, prepend=np.zeros((1, 2), np.int64)) for p in parts])


def build(src: Path, iso_path: Path, out: Path) -> dict[str, int]:
    topo = json.loads(src.read_text())
    scale = np.array(topo["transform"]["scale"], dtype=np.float64)
    translate = np.array(topo["transform"]["translate"], dtype=np.float64)
    arcs = decode_arcs(topo)
    to_a3 = iso_numeric_to_alpha3(iso_path)
    geoms = [g for g in topo["objects"]["countries"]["geometries"] if polygons(g)]

    use: Counter[int] = Counter()
    for g in geoms:
        for poly in polygons(g):
            for ring in poly:
                use.update(i if i >= 0 else ~i for i in ring)

    codes: dict[str, int] = {}
    iso3: list[str] = []
    names: list[str] = []
    ring_xy: list[np.ndarray] = []
    ring_country: list[int] = []
    coast_xy: list[np.ndarray] = []
    coast_country: list[int] = []
    for g in geoms:
        name = g["properties"]["name"]
        a3 = to_a3.get(int(g["id"])) if g.get("id") else NO_ID.get(name)
        if a3 is None:
            raise SystemExit(f"no ISO alpha-3 for {name!r} (id {g.get('id')!r})")
        if a3 not in codes:
            codes[a3] = len(iso3)
            iso3.append(a3)
            names.append(name)
        c = codes[a3]
        for poly in polygons(g):
            for ring in poly:
                ring_xy.append(unwrap(ring_of(arcs, ring), scale))
                ring_country.append(c)
                for i in ring:
                    j = i if i >= 0 else ~i
                    if use[j] != 1:
                        continue
                    pts = arcs[j]
                    cut = artificial(pts, scale, translate)
                    # Split the arc at artificial segments; keep the real coastline pieces.
                    start = 0
                    for k in [*np.flatnonzero(cut).tolist(), len(pts) - 1]:
                        if k > start:
                            coast_xy.append(unwrap(pts[start : k + 1], scale))
                            coast_country.append(c)
                        start = k + 1
    ring_start = np.concatenate([[0], np.cumsum([len(r) for r in ring_xy])])
    coast_start = np.concatenate([[0], np.cumsum([len(a) for a in coast_xy])])
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        iso3=np.array(iso3),
        sovereign=np.array([SOVEREIGN.get(a, a) for a in iso3]),
        name=np.array(names),
        ring_dxy=delta(ring_xy).astype(np.int32),
        ring_start=ring_start.astype(np.int64),
        ring_country=np.array(ring_country, dtype=np.int16),
        coast_dxy=delta(coast_xy).astype(np.int32),
        coast_start=coast_start.astype(np.int64),
        coast_country=np.array(coast_country, dtype=np.int16),
        scale=scale,
        translate=translate,
        source=np.array(f"world-atlas 2.0.2 {src.name} (Natural Earth 1:50m admin-0)"),
    )
    return {
        "countries": len(iso3),
        "rings": len(ring_xy),
        "ring_vertices": int(ring_start[-1]),
        "coast_lines": len(coast_xy),
        "coast_vertices": int(coast_start[-1]),
        "bytes": out.stat().st_size,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", type=Path, help="world-atlas countries-50m.json")
    ap.add_argument("--iso", type=Path, default=ISO_TABLE, help="iso-codes iso_3166-1.json")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    print(json.dumps(build(args.source, args.iso, args.out)))


if __name__ == "__main__":
    main()
