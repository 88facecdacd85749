// The app's service worker (scope /app/): keeps the app usable offline,
// owns the alarm outbox, retrying with backoff until each alarm's receipt,
// and shows the warnings Vangnet pushes.
"use strict";

importScripts("store.js", "send.js");

const CACHE = "vangnet-app-v2";
const SHELL = ["./", "app.js", "store.js", "send.js", "app.css", "manifest.webmanifest", "icon.svg"];
const LONGEST_WAIT_MS = 30000;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

// The app itself: the network first (so an update shows at once), the cache offline.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || !url.pathname.startsWith("/app/")) return;
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        const copy = response.clone();
        if (response.ok) caches.open(CACHE).then((cache) => cache.put(event.request, copy));
        return response;
      })
      .catch(() => caches.match(event.request, { ignoreSearch: true })),
  );
});

async function announce(message) {
  const pages = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  pages.forEach((page) => page.postMessage(message));
}

let retrying = null;

// Sends the outbox until it is empty, waiting 1, 2, 4 … 30 s between rounds.
function retryUntilEmpty() {
  if (!retrying) {
    retrying = (async () => {
      let wait = 1000;
      while (!(await vangnetSend.flushOutbox(announce))) {
        await new Promise((resolve) => setTimeout(resolve, wait));
        wait = Math.min(wait * 2, LONGEST_WAIT_MS);
      }
    })().finally(() => { retrying = null; });
  }
  return retrying;
}

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "flush") event.waitUntil(retryUntilEmpty());
});

// Background Sync: the browser wakes the worker when the phone is online again.
self.addEventListener("sync", (event) => {
  if (event.tag === "vangnet-outbox") {
    event.waitUntil(vangnetSend.flushOutbox(announce).then((empty) => {
      if (!empty) throw new Error("alarms still without a receipt");
    }));
  }
});

// --- warnings (Web Push) -------------------------------------------------------

const LEVELS = {
  prealarm: { title: "Warning: stay alert", body: "Follow the instructions you were given.", urgent: true },
  alarm: { title: "Alarm: go to a safe place", body: "Go to a safe place if you can.", urgent: true },
  clear: { title: "All clear", body: "The warning has ended.", urgent: false },
};
const PLAIN = { title: "Vangnet", body: "Open the app for a new message.", urgent: false };
const LONGEST_TEXT = 200;

function text(value, fallback) {
  return typeof value === "string" && value.length > 0 && value.length <= LONGEST_TEXT ? value : fallback;
}

// The notification of a push: a warning's own text when its fields are
// sound, else a plain notice; nothing else of the payload is shown.
function notificationOf(data) {
  let notice = null;
  try { notice = data ? data.json() : null; } catch (notJson) { notice = null; }
  const sound = notice !== null && typeof notice === "object" && notice.kind === "warning"
    && Object.hasOwn(LEVELS, notice.level) && typeof notice.alert_id === "string"
    && notice.alert_id.length <= LONGEST_TEXT && Number.isFinite(notice.ts);
  if (!sound) return { title: PLAIN.title, options: { body: PLAIN.body, tag: "vangnet", icon: "icon.svg" } };
  const level = LEVELS[notice.level];
  return {
    title: text(notice.title, level.title),
    options: {
      body: text(notice.body, level.body),
      tag: `warning-${notice.alert_id}`,
      renotify: true,
      requireInteraction: level.urgent,
      vibrate: level.urgent ? [300, 100, 300, 100, 300] : undefined,
      timestamp: notice.ts,
      icon: "icon.svg",
    },
  };
}

self.addEventListener("push", (event) => {
  const { title, options } = notificationOf(event.data);
  event.waitUntil(self.registration.showNotification(title, options));
});

// A tap on a warning brings the app to the front, or opens it.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil((async () => {
    const pages = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const open = pages.find((page) => new URL(page.url).pathname.startsWith("/app/"));
    if (open) return open.focus();
    return self.clients.openWindow("/app/");
  })());
});
