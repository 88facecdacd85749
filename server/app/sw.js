// The app's service worker (scope /app/): keeps the app usable offline and
// owns the alarm outbox, retrying with backoff until each alarm's receipt.
"use strict";

importScripts("store.js", "send.js");

const CACHE = "vangnet-app-v1";
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
