// The dispatcher console: sign-in, the incident board fed by the live
// stream, the detail pane, the degraded-dispatch banner and the P1 alarm.

import { api, onUnauthorized, readClaims, session } from "./api.js";
import * as alarm from "./alarm.js";
import { Board } from "./board.js";
import { Detail } from "./detail.js";
import { registerWorker, setUpPush, unsubscribe } from "./push.js";
import { LiveStream } from "./stream.js";

const HEALTH_EVERY_MS = 5000;
const $ = (id) => document.getElementById(id);

const CONNECTION_TEXT = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  stopped: "Disconnected",
};

let settings = { tile_url: null };
let stream = null;
let board = null;
let detail = null;
let worker = null;
let timers = [];
const heardAlerts = new Set();

function showMessage(text) {
  const box = $("message");
  box.textContent = text ?? "";
  box.hidden = !text;
}

function setConnection(state) {
  const badge = $("connection");
  badge.dataset.state = state;
  badge.textContent = CONNECTION_TEXT[state] ?? state;
}

async function loadSettings() {
  try {
    const response = await fetch("config.json", { cache: "no-store" });
    if (response.ok) settings = await response.json();
  } catch {
    // The console works without tiles.
  }
}

async function checkHealth() {
  try {
    const response = await fetch("/healthz", { cache: "no-store" });
    const health = await response.json();
    $("degraded").hidden = health.status !== "degraded";
  } catch {
    // The stream's state already says when the server cannot be reached.
  }
}

async function loadIncidents() {
  try {
    const page = await api("/api/v1/incidents?limit=200");
    board.replace(page.items ?? []);
    updateRegions();
    (page.items ?? []).forEach((incident) => incident.alerts?.forEach((a) => heardAlerts.add(a.alert_id)));
    openFromHash();
  } catch (error) {
    showMessage(error.message);
  }
}

function updateRegions() {
  const select = $("region-filter");
  const known = new Set([...select.options].map((option) => option.value));
  const claims = readClaims(session.token() ?? "");
  const regions = [...(claims?.regions ?? []).filter((r) => r !== "*"), ...board.regions()];
  for (const region of regions) {
    if (known.has(region)) continue;
    known.add(region);
    select.append(new Option(region, region));
  }
}

function onStreamEvent(event, data) {
  if (event === "incident") {
    if (board.upsert(data)) updateRegions();
    detail.refresh(board.incidents.get(data.incident_id) ?? data);
  } else if (event === "alert") {
    const fresh = !heardAlerts.has(data.alert_id);
    heardAlerts.add(data.alert_id);
    if (fresh && data.priority === "P1" && data.status === "open") alarm.sound();
  } else if (event === "gap") {
    loadIncidents();
  }
}

async function openIncident(incidentId, alertId) {
  let incident = board.incidents.get(incidentId);
  if (!incident) {
    try {
      incident = await api(`/api/v1/incidents/${encodeURIComponent(incidentId)}`);
      board.upsert(incident);
    } catch (error) {
      showMessage(error.message);
      return;
    }
  }
  board.select(incidentId);
  history.replaceState(null, "", `#incident=${encodeURIComponent(incidentId)}`);
  await detail.show(incident, alertId);
}

async function openAlert(alertId) {
  try {
    const alert = await api(`/api/v1/alerts/${encodeURIComponent(alertId)}`);
    await openIncident(alert.incident_id, alertId);
  } catch (error) {
    showMessage(error.message);
  }
}

function openFromHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.get("alert")) openAlert(params.get("alert"));
  else if (params.get("incident")) openIncident(params.get("incident"));
}

function signOut(message) {
  stream?.stop();
  stream = null;
  timers.forEach(clearInterval);
  timers = [];
  unsubscribe(worker);
  session.clear();
  heardAlerts.clear();
  board?.replace([]);
  if (detail?.open) detail.close();
  $("console").hidden = true;
  $("signin").hidden = false;
  $("token").value = "";
  const note = $("signin-message");
  note.textContent = message ?? "";
  note.hidden = !message;
}

function refused(status) {
  if (status === 401) signOut("Your sign-in is no longer valid (the token expired or was refused). Sign in again with a fresh token.");
  else {
    setConnection("stopped");
    showMessage("This token may not watch alerts: the console is for dispatchers.");
  }
}

async function enter() {
  const claims = readClaims(session.token() ?? "");
  $("who").textContent = claims ? `${claims.sub} (${claims.regions.join(", ") || "no region"})` : "";
  $("signin").hidden = true;
  $("console").hidden = false;
  showMessage(null);
  stream = new LiveStream({
    token: () => session.token(),
    onEvent: onStreamEvent,
    onState: setConnection,
    onOpen: (fresh) => fresh && loadIncidents(),
    onRefused: refused,
  });
  stream.start();
  checkHealth();
  timers.push(setInterval(checkHealth, HEALTH_EVERY_MS));
  timers.push(setInterval(() => board.tick(), 1000));
  worker = await registerWorker();
  setUpPush($("notify"), worker, showMessage);
}

function signIn(event) {
  event.preventDefault();
  alarm.unlock();
  const token = $("token").value.trim();
  const claims = readClaims(token);
  const note = $("signin-message");
  if (!claims) {
    note.textContent = "That is not a Vangnet token. Paste the whole token, three parts separated by dots.";
    note.hidden = false;
    return;
  }
  if (claims.exp && claims.exp * 1000 < Date.now()) {
    note.textContent = "This token has expired. Ask for a fresh one.";
    note.hidden = false;
    return;
  }
  session.set(token);
  enter();
}

function toggleMute() {
  alarm.unlock();
  alarm.setMuted(!alarm.isMuted());
  $("mute").setAttribute("aria-pressed", String(alarm.isMuted()));
  $("mute").textContent = alarm.isMuted() ? "Sound off" : "Sound on";
}

async function start() {
  await loadSettings();
  board = new Board({
    list: $("incidents"),
    empty: $("empty"),
    onSelect: (incidentId) => openIncident(incidentId),
  });
  detail = new Detail({
    tileUrl: settings.tile_url ?? null,
    onMessage: showMessage,
    onClose: () => {
      board.select(null);
      history.replaceState(null, "", location.pathname);
    },
  });
  onUnauthorized(() => refused(401));
  $("signin-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", () => signOut(null));
  $("mute").addEventListener("click", toggleMute);
  $("region-filter").addEventListener("change", (event) => board.filter(event.target.value));
  navigator.serviceWorker?.addEventListener("message", (event) => {
    if (typeof event.data?.open_alert === "string") openAlert(event.data.open_alert);
  });
  window.addEventListener("hashchange", openFromHash);
  document.body.dataset.ready = "true";
  if (session.token()) enter();
}

start();
