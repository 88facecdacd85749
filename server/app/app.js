// The victim's app: sign in with the credentials an admin issued, a panic
// button that fires after a 1.5 s hold, location sharing while open, and
// warnings as Web Push notifications when the phone allows them.
"use strict";

const HOLD_MS = 1500;
const FIX_EVERY_MS = 10000;
const FIX_MOVED_M = 25;
const RING_LENGTH = 565.5;
const RECEIPT_SHOWN_MS = 3600000;
const OUTBOX_CHECK_MS = 15000;

const $ = (id) => document.getElementById(id);

function show(section) {
  $("sign-in").hidden = section !== "sign-in";
  $("panic").hidden = section !== "panic";
}

// --- sending ---------------------------------------------------------------

const worker = "serviceWorker" in navigator
  ? navigator.serviceWorker.register("sw.js", { scope: "/app/" }).then(() => navigator.serviceWorker.ready)
  : Promise.reject(new Error("no service worker"));
worker.catch(() => {});

let pageRetry = null;

// Hands the outbox to the service worker (and to Background Sync), or, in a
// browser without one, retries from the page while it is open.
async function flush() {
  try {
    const registration = await worker;
    registration.active.postMessage({ type: "flush" });
    if ("sync" in registration) await registration.sync.register("vangnet-outbox").catch(() => {});
  } catch (noWorker) {
    if (pageRetry) return;
    let wait = 1000;
    const round = async () => {
      if (await vangnetSend.flushOutbox(onMessage)) { pageRetry = null; return; }
      wait = Math.min(wait * 2, 30000);
      pageRetry = setTimeout(round, wait);
    };
    pageRetry = setTimeout(round, 0);
  }
}

function onMessage(message) {
  if (message.type === "receipt") showReceipt(message.receipt);
  if (message.type === "refused") setAlarmStatus("sending", "Sending… the device's credentials were refused; ask for new ones");
  if (message.type === "invalid") setAlarmStatus("sending", `The alarm was refused: ${message.error}`);
}

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.addEventListener("message", (event) => onMessage(event.data));
}

function setAlarmStatus(state, text) {
  const status = $("alarm-status");
  status.className = state;
  status.textContent = text;
}

function showReceipt(receipt) {
  const at = new Date(receipt.ts).toLocaleTimeString();
  setAlarmStatus("received", `Help is on its way (received ${at})`);
}

async function fire() {
  navigator.vibrate?.(200);
  const alarm = { seq: await vangnetStore.nextSeq(), ts: Date.now(), kind: "panic" };
  const fix = await vangnetStore.get("last-fix");
  if (fix) Object.assign(alarm, { lat: fix.lat, lon: fix.lon, acc: fix.acc });
  await vangnetStore.enqueue(alarm);
  setAlarmStatus("sending", "Sending… (will keep trying)");
  flush();
}

// --- press and hold ----------------------------------------------------------

function holdButton(button, ring) {
  let started = null;
  let frame = null;

  const draw = (progress) => { ring.style.strokeDashoffset = String(RING_LENGTH * (1 - progress)); };
  const stop = () => {
    started = null;
    cancelAnimationFrame(frame);
    button.classList.remove("holding");
    draw(0);
  };
  const tick = (now) => {
    if (started === null) return;
    const progress = Math.min((now - started) / HOLD_MS, 1);
    draw(progress);
    if (progress >= 1) { stop(); fire(); return; }
    frame = requestAnimationFrame(tick);
  };
  const start = () => {
    if (started !== null) return;
    started = performance.now();
    button.classList.add("holding");
    frame = requestAnimationFrame(tick);
  };

  button.addEventListener("pointerdown", (event) => { button.setPointerCapture(event.pointerId); start(); });
  ["pointerup", "pointercancel", "lostpointercapture"].forEach((type) => button.addEventListener(type, stop));
  button.addEventListener("keydown", (event) => {
    if ((event.key === " " || event.key === "Enter") && !event.repeat) { event.preventDefault(); start(); }
  });
  button.addEventListener("keyup", stop);
  button.addEventListener("contextmenu", (event) => event.preventDefault());
}

// --- location ----------------------------------------------------------------

let watch = null;
let lastSent = null;

function metresBetween(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371000 * Math.asin(Math.sqrt(h));
}

function setLocationStatus(on, text) {
  const status = $("location-status");
  status.className = on ? "on" : "off";
  status.textContent = text;
}

async function onPosition(position) {
  const fix = {
    ts: Math.round(position.timestamp || Date.now()),
    lat: position.coords.latitude,
    lon: position.coords.longitude,
    acc: position.coords.accuracy,
  };
  await vangnetStore.put("last-fix", fix);
  setLocationStatus(true, "Sharing your location while the app is open");
  const due = !lastSent || fix.ts - lastSent.ts >= FIX_EVERY_MS || metresBetween(lastSent, fix) > FIX_MOVED_M;
  const credentials = await vangnetStore.get("credentials");
  if (!due || !credentials) return;
  lastSent = fix;
  try {
    const response = await vangnetSend.post("/device/v1/loc", { seq: await vangnetStore.nextSeq(), ...fix }, credentials);
    if (response.status === 403) setLocationStatus(false, "This device is not linked to a protection order yet");
  } catch (offline) {
    setLocationStatus(true, "Location known; not sent (offline)");
  }
}

function shareLocation() {
  if (!("geolocation" in navigator)) {
    setLocationStatus(false, "This phone cannot share its location");
    return;
  }
  setLocationStatus(false, "Waiting for your location…");
  watch = navigator.geolocation.watchPosition(onPosition, () => {
    setLocationStatus(false, "Location is not shared (allow it in the browser's settings)");
  }, { enableHighAccuracy: true, maximumAge: 5000 });
}

// --- warnings (Web Push) -------------------------------------------------------

function setWarningStatus(on, text) {
  const status = $("warning-status");
  status.className = on ? "on" : "off";
  status.textContent = text;
}

function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function sameKey(buffer, bytes) {
  if (!buffer) return false;
  const held = new Uint8Array(buffer);
  return held.length === bytes.length && held.every((b, i) => b === bytes[i]);
}

// Subscribes this phone to its device's warnings with Vangnet's key, and
// tells Vangnet where to push them; a subscription to an old key is renewed.
async function subscribeToWarnings(credentials) {
  $("warnings-on").hidden = true;
  let answer;
  try {
    answer = await vangnetSend.call("GET", "/device/v1/push-key", credentials);
  } catch (offline) {
    setWarningStatus(false, "Warnings are not set up yet (offline)");
    return;
  }
  if (answer.status === 404) {
    setWarningStatus(false, "Warnings on this phone are not available");
    return;
  }
  if (!answer.ok) {
    setWarningStatus(false, "Warnings could not be set up; try again later");
    return;
  }
  try {
    const key = keyBytes((await answer.json()).public_key);
    const registration = await worker;
    let subscription = await registration.pushManager.getSubscription();
    if (subscription && !sameKey(subscription.options.applicationServerKey, key)) {
      await subscription.unsubscribe();
      subscription = null;
    }
    if (!subscription) {
      subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    }
    const saved = await vangnetSend.call("POST", "/device/v1/push-subscription", credentials, subscription.toJSON());
    if (saved.status === 204) setWarningStatus(true, "Warnings are on");
    else setWarningStatus(false, "Warnings could not be set up; try again later");
  } catch (refused) {
    setWarningStatus(false, "Warnings could not be set up on this phone");
  }
}

// Turns warnings on now if the phone already allows notifications, or
// offers a button (asking needs a tap in some browsers).
function setUpWarnings(credentials) {
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    setWarningStatus(false, "This phone cannot show warnings from Vangnet");
    return;
  }
  if (Notification.permission === "granted") {
    subscribeToWarnings(credentials);
  } else if (Notification.permission === "denied") {
    setWarningStatus(false, "Warnings are blocked (allow notifications in the browser's settings)");
  } else {
    setWarningStatus(false, "Warnings are off");
    const button = $("warnings-on");
    button.hidden = false;
    button.onclick = async () => {
      if ((await Notification.requestPermission()) === "granted") subscribeToWarnings(credentials);
      else setWarningStatus(false, "Warnings are off (notifications not allowed)");
    };
  }
}

// Stops warnings to this phone: at Vangnet, and in the browser.
async function unsubscribeFromWarnings(credentials) {
  await vangnetSend.call("DELETE", "/device/v1/push-subscription", credentials).catch(() => {});
  try {
    const subscription = await (await worker).pushManager.getSubscription();
    if (subscription) await subscription.unsubscribe();
  } catch (noWorker) { /* nothing subscribed */ }
}

// --- sign-in -----------------------------------------------------------------

async function signIn(event) {
  event.preventDefault();
  const credentials = { device: $("device-id").value.trim(), password: $("password").value };
  $("sign-in-error").textContent = "";
  let response;
  try {
    const heartbeat = { seq: await vangnetStore.nextSeq(), ts: Date.now(), kind: "heartbeat" };
    response = await vangnetSend.post("/device/v1/status", heartbeat, credentials);
  } catch (offline) {
    $("sign-in-error").textContent = "No connection; try again when online.";
    return;
  }
  if (response.status === 401 || response.status === 429 || response.status === 503) {
    $("sign-in-error").textContent = (await response.json()).error;
    return;
  }
  await vangnetStore.put("credentials", credentials);
  $("password").value = "";
  start(credentials);
}

// An alarm still waiting for its receipt needs the credentials to be sent:
// signing out waits until help is confirmed.
async function signOut() {
  if ((await vangnetStore.queued()).length > 0) {
    setAlarmStatus("sending", "Sending… (will keep trying). Sign out once help is confirmed.");
    return;
  }
  if (watch !== null) navigator.geolocation.clearWatch(watch);
  const credentials = await vangnetStore.get("credentials");
  if (credentials) await unsubscribeFromWarnings(credentials);
  await vangnetStore.remove("credentials");
  location.reload();
}

async function start(credentials) {
  show("panic");
  $("device-line").textContent = `Device ${credentials.device}`;
  const [queued, receipt] = await Promise.all([vangnetStore.queued(), vangnetStore.get("receipt")]);
  if (queued.length > 0) {
    setAlarmStatus("sending", "Sending… (will keep trying)");
    flush();
  } else if (receipt && Date.now() - receipt.ts < RECEIPT_SHOWN_MS) {
    showReceipt(receipt);
  }
  setInterval(async () => {
    if ((await vangnetStore.queued()).length > 0) flush();
  }, OUTBOX_CHECK_MS);
  shareLocation();
  setUpWarnings(credentials);
}

window.addEventListener("online", flush);
document.addEventListener("DOMContentLoaded", async () => {
  holdButton($("panic-button"), $("ring"));
  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  const credentials = await vangnetStore.get("credentials");
  if (credentials) start(credentials); else show("sign-in");
});
