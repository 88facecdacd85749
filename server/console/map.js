// The incident map: an SVG the console draws itself from the order's zones
// (GeoJSON [lon, lat]) and the latest positions, in Web Mercator so that an
// optional tile layer lines up under it.

const SVG = "http://www.w3.org/2000/svg";
const EARTH_M = 40075016.686;
const WIDTH = 800;
const HEIGHT = 600;
const MAX_TILES = 64;

/** [x, y] in Web Mercator pixels at zoom 0 (a 256-pixel world). */
function project(lon, lat) {
  const clamped = Math.max(-85, Math.min(85, lat));
  const sin = Math.sin((clamped * Math.PI) / 180);
  const x = ((lon + 180) / 360) * 256;
  const y = (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * 256;
  return [x, y];
}

/** Pixels at zoom 0 of `metres` at `lat`. */
function metres(m, lat) {
  return (m / (EARTH_M * Math.cos((lat * Math.PI) / 180))) * 256;
}

function valid(lon, lat) {
  return Number.isFinite(lon) && Number.isFinite(lat) && Math.abs(lat) <= 90 && Math.abs(lon) <= 180;
}

/** Shapes to draw: zones and positions, in projected pixels at zoom 0. */
export function shapes(zoneAreas, positions) {
  const drawn = [];
  for (const zone of zoneAreas ?? []) {
    const geometry = zone.geometry ?? {};
    if (geometry.type === "Point") {
      const [lon, lat] = geometry.coordinates ?? [];
      if (!valid(lon, lat)) continue;
      const [x, y] = project(lon, lat);
      const r = metres(zone.radius_m ?? 0, lat);
      const pre = metres((zone.radius_m ?? 0) + (zone.prealarm_m ?? 0), lat);
      drawn.push({ type: "circle", className: "zone-prealarm", x, y, r: pre, label: zone.id });
      drawn.push({ type: "circle", className: "zone", x, y, r, label: zone.id });
    } else if (geometry.type === "Polygon" || geometry.type === "MultiPolygon") {
      const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
      for (const rings of polygons ?? []) {
        const points = (rings ?? []).map((ring) =>
          (ring ?? []).filter(([lon, lat]) => valid(lon, lat)).map(([lon, lat]) => project(lon, lat)),
        );
        drawn.push({ type: "polygon", className: "zone", rings: points, label: zone.id });
      }
    }
  }
  for (const position of positions) {
    if (!valid(position.lon, position.lat)) continue;
    const [x, y] = project(position.lon, position.lat);
    const r = metres(position.acc ?? 0, position.lat);
    drawn.push({ type: "position", className: position.role, x, y, r, label: position.label });
  }
  return drawn;
}

function bounds(drawn) {
  const box = { minX: Infinity, minY: Infinity, maxX: -Infinity, maxY: -Infinity };
  const add = (x, y, r = 0) => {
    box.minX = Math.min(box.minX, x - r);
    box.maxX = Math.max(box.maxX, x + r);
    box.minY = Math.min(box.minY, y - r);
    box.maxY = Math.max(box.maxY, y + r);
  };
  for (const shape of drawn) {
    if (shape.type === "polygon") shape.rings.flat().forEach(([x, y]) => add(x, y));
    else add(shape.x, shape.y, shape.r);
  }
  return box;
}

function element(name, attributes, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * Draws the map into `container`; `tileUrl` is a `{z}/{x}/{y}` template or
 * null. Returns false when there is nothing to draw.
 */
export function drawMap(container, zoneAreas, positions, tileUrl) {
  const drawn = shapes(zoneAreas, positions);
  if (drawn.length === 0) {
    container.replaceChildren();
    return false;
  }
  const box = bounds(drawn);
  const span = metres(400, 52);
  const width = box.maxX - box.minX;
  const height = box.maxY - box.minY;
  const fit = Math.min((WIDTH * 0.85) / Math.max(width, 1e-12), (HEIGHT * 0.85) / Math.max(height, 1e-12), (WIDTH * 0.85) / span);
  const zoom = Math.max(0, Math.min(19, Math.floor(Math.log2(fit))));
  const scale = 2 ** zoom;
  const cx = ((box.minX + box.maxX) / 2) * scale;
  const cy = ((box.minY + box.maxY) / 2) * scale;
  const left = cx - WIDTH / 2;
  const top = cy - HEIGHT / 2;
  const svg = element("svg", {
    viewBox: `${left} ${top} ${WIDTH} ${HEIGHT}`,
    role: "img",
    "aria-label": "Map of the order's zones and the latest positions",
    class: "map-svg",
  });
  svg.append(element("rect", { x: left, y: top, width: WIDTH, height: HEIGHT, class: "map-ground" }));
  if (tileUrl) svg.append(tiles(tileUrl, zoom, left, top));
  for (const shape of drawn) svg.append(draw(shape, scale));
  svg.append(scaleBar(left + 20, top + HEIGHT - 20, zoom, cy / scale / 256));
  container.replaceChildren(svg);
  return true;
}

function draw(shape, scale) {
  if (shape.type === "polygon") {
    const d = shape.rings
      .filter((ring) => ring.length > 2)
      .map((ring) => `M${ring.map(([x, y]) => `${x * scale},${y * scale}`).join("L")}Z`)
      .join("");
    const group = element("g", { class: shape.className });
    group.append(element("path", { d, "fill-rule": "evenodd" }), element("title", {}, `zone ${shape.label}`));
    const outer = shape.rings[0] ?? [];
    if (outer.length > 0) {
      const x = (outer.reduce((sum, [px]) => sum + px, 0) / outer.length) * scale;
      const y = (outer.reduce((sum, [, py]) => sum + py, 0) / outer.length) * scale;
      group.append(element("text", { x, y: y + 7, "text-anchor": "middle" }, shape.label));
    }
    return group;
  }
  const group = element("g", { class: shape.className });
  const x = shape.x * scale;
  const y = shape.y * scale;
  group.append(element("circle", { cx: x, cy: y, r: Math.max(shape.r * scale, shape.type === "position" ? 0 : 1) }));
  if (shape.type === "position") {
    group.append(element("circle", { cx: x, cy: y, r: 9, class: "marker" }));
    group.append(element("text", { x: x + 14, y: y - 12 }, shape.label));
  } else if (shape.className === "zone") {
    group.append(element("text", { x, y: y + 7, "text-anchor": "middle" }, shape.label));
  }
  return group;
}

function tiles(template, zoom, left, top) {
  const group = element("g", { class: "tiles" });
  const count = 2 ** zoom;
  const first = [Math.floor(left / 256), Math.floor(top / 256)];
  const last = [Math.floor((left + WIDTH) / 256), Math.floor((top + HEIGHT) / 256)];
  let drawn = 0;
  for (let ty = first[1]; ty <= last[1]; ty += 1) {
    for (let tx = first[0]; tx <= last[0]; tx += 1) {
      if (ty < 0 || ty >= count || drawn >= MAX_TILES) continue;
      const x = ((tx % count) + count) % count;
      const href = template.replace("{z}", zoom).replace("{x}", x).replace("{y}", ty);
      group.append(element("image", { href, x: tx * 256, y: ty * 256, width: 256, height: 256 }));
      drawn += 1;
    }
  }
  return group;
}

function scaleBar(x, y, zoom, worldY) {
  const lat = (Math.atan(Math.sinh(Math.PI * (1 - 2 * worldY))) * 180) / Math.PI;
  const metresPerPixel = (EARTH_M * Math.cos((lat * Math.PI) / 180)) / (256 * 2 ** zoom);
  const steps = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000];
  const length = steps.find((m) => m / metresPerPixel >= 80) ?? steps[steps.length - 1];
  const pixels = length / metresPerPixel;
  const group = element("g", { class: "scale" });
  group.append(element("path", { d: `M${x},${y - 6}V${y}H${x + pixels}V${y - 6}` }));
  group.append(element("text", { x, y: y - 10 }, length >= 1000 ? `${length / 1000} km` : `${length} m`));
  return group;
}
