// The warning-data map: fused tracks, their predicted impact ellipses (95 %) and the sensors,
// on an offline map (Leaflet + Natural Earth countries from world-atlas, vendored; no tiles,
// no request to any other host). Registered as the "map" view (extensions.js); shown when the
// node serves GET /api/v1/tracks.
import { h, replaceChildren } from "../dom.js";
import { registerView } from "../extensions.js";
import { N_, ago, formatNumber, formatTime, t } from "../i18n.js";
import { channelMembers, nationName } from "../labels.js";

const VENDOR = "/console/static/vendor";
const PHASE_NAMES = { boost: N_("Boost"), midcourse: N_("Midcourse"), terminal: N_("Terminal") };
const STATUS_NAMES = { tentative: N_("Tentative"), confirmed: N_("Confirmed"), merged: N_("Merged"), dropped: N_("Dropped") };
const PHASE_COLOURS = { boost: "#ffb020", midcourse: "#ff5c7a", terminal: "#ff2a2a" };
const HISTORY = 400; // points of track history kept per track
// Warning data is marked by the compact ([sharing] classification, SECRET by default); the
// track view does not carry its marking yet, so the map assumes the default.
const DEFAULT_CLASSIFICATION = "secret";

let libraries = null;

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`cannot load ${src}`));
    document.head.append(s);
  });
}

function loadLibraries() {
  if (!libraries) {
    const css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = `${VENDOR}/leaflet/leaflet.css`;
    document.head.append(css);
    libraries = Promise.all([
      loadScript(`${VENDOR}/leaflet/leaflet.js`),
      loadScript(`${VENDOR}/topojson-client/topojson-client.min.js`),
      fetch(`${VENDOR}/world-atlas/countries-50m.json`).then((r) => r.json()),
    ]).then(([, , world]) => world);
  }
  return libraries;
}

/** The 95 % ellipse as a polygon: semi-axes in metres, major axis ``orientation_deg`` from north. */
function ellipse(impact, steps = 48) {
  const phi = (impact.orientation_deg * Math.PI) / 180;
  const major = [Math.sin(phi), Math.cos(phi)]; // east, north
  const minor = [Math.cos(phi), -Math.sin(phi)];
  const mPerDegLat = 111320;
  const mPerDegLon = 111320 * Math.cos((impact.lat * Math.PI) / 180);
  const points = [];
  for (let i = 0; i < steps; i += 1) {
    const a = (2 * Math.PI * i) / steps;
    const x = impact.semi_major_m * Math.cos(a);
    const y = impact.semi_minor_m * Math.sin(a);
    const east = x * major[0] + y * minor[0];
    const north = x * major[1] + y * minor[1];
    points.push([impact.lat + north / mPerDegLat, impact.lon + east / mPerDegLon]);
  }
  return points;
}

function create(ctx) {
  const { api, store } = ctx;
  const mapEl = h("div", { class: "map", role: "region", "aria-label": t("Map") });
  const side = h("aside", { class: "map-side", "aria-labelledby": "tracks-title" });
  const element = h("section", { class: "map-view" }, mapEl, side);
  const state = { tracks: [], alerts: [], sensors: [], error: "", history: new Map() };
  let map = null;
  let layers = null;
  let timer = null;

  function remember(track) {
    const line = state.history.get(track.id) || [];
    const last = line[line.length - 1];
    if (!last || last[0] !== track.lat || last[1] !== track.lon) line.push([track.lat, track.lon]);
    state.history.set(track.id, line.slice(-HISTORY));
  }

  async function load() {
    try {
      const [tracks, alerts] = await Promise.all([
        api.get("/api/v1/tracks"),
        api.get("/api/v1/alerts").catch(() => []),
      ]);
      state.tracks = tracks;
      state.alerts = alerts;
      state.error = "";
      tracks.forEach(remember);
    } catch (err) {
      state.error = err.message;
    }
    render();
  }

  function loadSoon() {
    clearTimeout(timer);
    timer = setTimeout(load, 300);
  }

  function tip(track) {
    const lines = [
      `${track.id} · ${t(PHASE_NAMES[track.phase] || track.phase)} · ${t(STATUS_NAMES[track.status] || track.status)}`,
      t("Altitude {km} km, speed {kms} km/s", {
        km: formatNumber(Math.round(track.hae / 1000)),
        kms: formatNumber(Math.round(track.velocity.speed / 100) / 10),
      }),
    ];
    if (track.impact) {
      lines.push(t("Predicted impact: {where} at {time}", {
        where: track.impact.territory ? nationName(track.impact.territory) : t("outside the parties' territory"),
        time: formatTime(track.impact.time, "time"),
      }));
    }
    return lines.join("\n");
  }

  function drawMap(world) {
    const L = window.L;
    if (!map) {
      map = L.map(mapEl, { worldCopyJump: true, minZoom: 2, maxZoom: 9, zoomSnap: 0.5 });
      map.attributionControl.setPrefix(false);
      map.attributionControl.addAttribution("Natural Earth");
      map.setView([37.5, 133], 4.5);
      const countries = window.topojson.feature(world, world.objects.countries);
      L.geoJSON(countries, {
        interactive: false,
        style: { color: "#6b7c8d", weight: 0.7, fillColor: "#243140", fillOpacity: 1 },
      }).addTo(map);
      layers = { sensors: L.layerGroup().addTo(map), tracks: L.layerGroup().addTo(map) };
      api.get("/api/v1/sensors").then((sensors) => {
        state.sensors = sensors;
        for (const s of sensors) {
          L.circleMarker([s.lat, s.lon], { radius: 4, color: "#7cc4ff", weight: 1, fillOpacity: 0.8 })
            .bindTooltip(`${s.name} (${s.nation})`)
            .addTo(layers.sensors);
        }
      }).catch(() => {});
    }
    map.invalidateSize();
    layers.tracks.clearLayers();
    for (const track of state.tracks) {
      const colour = PHASE_COLOURS[track.phase] || "#ffffff";
      const line = state.history.get(track.id) || [];
      if (line.length > 1) L.polyline(line, { color: colour, weight: 2, opacity: 0.8 }).addTo(layers.tracks);
      L.circleMarker([track.lat, track.lon], { radius: 6, color: colour, weight: 2, fillOpacity: 0.9, className: "track-marker" })
        .bindTooltip(tip(track), { className: "track-tip" })
        .addTo(layers.tracks);
      if (track.impact) {
        const at = [track.impact.lat, track.impact.lon];
        L.polyline([[track.lat, track.lon], at], { color: "#ff2a2a", weight: 1.5, dashArray: "6 6", interactive: false }).addTo(layers.tracks);
        L.polygon(ellipse(track.impact), { color: "#ff2a2a", weight: 2, fillOpacity: 0.25, className: "impact-ellipse" })
          .bindTooltip(tip(track), { className: "track-tip" })
          .addTo(layers.tracks);
        // The ellipse may be far smaller than a pixel at this zoom: a ring marks the point.
        L.circleMarker(at, { radius: 9, color: "#ff2a2a", weight: 2, fill: false, className: "impact-point" })
          .bindTooltip(tip(track), { className: "track-tip" })
          .addTo(layers.tracks);
      }
    }
  }

  function sidePane() {
    return [
      h("h2", { id: "tracks-title" }, t("Tracks")),
      state.error ? h("p", { class: "error", role: "alert" }, state.error) : null,
      state.tracks.length === 0
        ? h("p", { class: "empty" }, t("No track."))
        : h("table", { class: "tracks" },
          h("thead", null, h("tr", null,
            h("th", { scope: "col" }, t("Track")),
            h("th", { scope: "col" }, t("Phase")),
            h("th", { scope: "col", class: "num" }, t("Altitude (km)")),
            h("th", { scope: "col" }, t("Predicted impact")))),
          h("tbody", null, state.tracks.map((tr) => h("tr", { dataset: { track: tr.id } },
            h("th", { scope: "row", class: "code" }, tr.id),
            h("td", null, t(PHASE_NAMES[tr.phase] || tr.phase)),
            h("td", { class: "num" }, formatNumber(Math.round(tr.hae / 1000))),
            h("td", { class: "impact" }, tr.impact
              ? [tr.impact.territory ? nationName(tr.impact.territory) : t("outside the parties' territory"), h("span", { class: "by" }, formatTime(tr.impact.time, "time")), h("span", { class: "ago" }, ago(tr.impact.time))]
              : "—"))))),
      h("h2", null, t("Missile warnings")),
      state.alerts.length === 0
        ? h("p", { class: "empty" }, t("No open warning."))
        : h("ul", { class: "warnings" }, state.alerts.map((a) => h("li", null,
          h("strong", null, t("Threatened: {nations}", { nations: a.threatened.map(nationName).join(", ") || "—" })),
          " ", h("span", { class: "code" }, a.track_id),
          a.impact ? h("span", { class: "by" }, t("Predicted impact: {where} at {time}", {
            where: a.impact.territory ? nationName(a.impact.territory) : t("outside the parties' territory"),
            time: formatTime(a.impact.time, "time"),
          })) : null))),
    ];
  }

  async function render() {
    replaceChildren(side, sidePane());
    mapEl.setAttribute("aria-label", t("Map"));
    ctx.invalidate("banner");
    if (!element.isConnected || mapEl.clientWidth === 0) return;
    try {
      drawMap(await loadLibraries());
    } catch (err) {
      state.error = err.message;
      replaceChildren(side, sidePane());
    }
  }

  load();
  return {
    element,
    render,
    onEvent(ev) {
      if (ev.type === "track") {
        remember(ev);
        loadSoon();
      } else if (ev.type === "alert" && ev.alert_id) {
        loadSoon();
      }
    },
    onScreen() {
      if (!state.tracks.length && !state.alerts.length) return [];
      const everyone = [...new Set(store.channels.flatMap((c) => channelMembers(c)))];
      return [...state.tracks, ...state.alerts].map((x) => ({
        classification: x.classification || DEFAULT_CLASSIFICATION,
        rel_to: x.rel_to || everyone,
      }));
    },
  };
}

registerView({ id: "map", create });
