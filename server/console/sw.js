// The console's service worker: shows a notification for each push and
// opens the console on its alert when the notification is clicked. It
// caches nothing, so the console never shows stale alerts.

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const PRIORITY = /^P[1-4]$/;

function text(value, limit = 200) {
  return typeof value === "string" ? value.slice(0, limit) : "";
}

function payload(data) {
  try {
    const json = data ? data.json() : null;
    return json && typeof json === "object" && ID.test(json.alert_id) ? json : null;
  } catch {
    return null;
  }
}

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  const alert = payload(event.data);
  if (!alert) {
    event.waitUntil(
      self.registration.showNotification("Vangnet: new alert", { body: "Open the console to see it.", tag: "vangnet" }),
    );
    return;
  }
  const priority = PRIORITY.test(alert.priority) ? alert.priority : "";
  const title = text(alert.title) || `${priority} ${text(alert.kind, 40).replace(/_/g, " ")}`.trim();
  const prefix = alert.exercise === true && !title.startsWith("EXERCISE") ? "EXERCISE: " : "";
  event.waitUntil(
    self.registration.showNotification(prefix + title, {
      body: text(alert.body, 500),
      tag: alert.alert_id,
      renotify: true,
      requireInteraction: priority === "P1",
      icon: "icon.svg",
      data: { alert_id: alert.alert_id },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const alertId = event.notification.data?.alert_id;
  const url = new URL(ID.test(alertId ?? "") ? `./#alert=${alertId}` : "./", self.registration.scope).href;
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const open = windows.find((client) => client.url.startsWith(self.registration.scope));
      if (open) {
        await open.focus();
        open.postMessage({ open_alert: alertId });
        return;
      }
      await self.clients.openWindow(url);
    })(),
  );
});
