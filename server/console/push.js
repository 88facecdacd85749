// "Notify me on this device": a Web Push subscription of this browser,
// registered with the API and removed again at sign-out. Hidden when the
// server has no Web Push configured or the browser cannot do it.

import { api, session } from "./api.js";

const SUBSCRIPTION_KEY = "vangnet.push.subscription";

function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

/** The console's service worker registration, or null where there is none. */
export async function registerWorker() {
  if (!("serviceWorker" in navigator)) return null;
  try {
    return await navigator.serviceWorker.register("sw.js", { scope: "./", type: "classic" });
  } catch {
    return null;
  }
}

/** Wires `button` to subscribe and unsubscribe; `onMessage` shows what went wrong. */
export async function setUpPush(button, registration, onMessage) {
  button.hidden = true;
  if (!registration || !("PushManager" in window) || !("Notification" in window)) return;
  let publicKey;
  try {
    publicKey = (await api("/api/v1/push/key")).public_key;
  } catch {
    return;
  }
  if (typeof publicKey !== "string" || publicKey === "") return;
  const show = (on) => {
    button.setAttribute("aria-pressed", String(on));
    button.textContent = on ? "Notifications on" : "Notify me on this device";
  };
  show(sessionStorage.getItem(SUBSCRIPTION_KEY) !== null);
  button.hidden = false;
  button.onclick = async () => {
    try {
      if (sessionStorage.getItem(SUBSCRIPTION_KEY) !== null) {
        await unsubscribe(registration);
        show(false);
        return;
      }
      if ((await Notification.requestPermission()) !== "granted") {
        onMessage("Notifications are blocked for this site in the browser's settings.");
        return;
      }
      const subscription = await registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: keyBytes(publicKey),
      });
      const created = await api("/api/v1/push/subscriptions", { method: "POST", body: subscription.toJSON() });
      sessionStorage.setItem(SUBSCRIPTION_KEY, created.id);
      show(true);
    } catch (error) {
      onMessage(error.message ?? "Notifications could not be turned on.");
    }
  };
}

/**
 * Removes this browser's subscription from the API and the browser, if it
 * has one. Takes the token at once, so the caller may forget it right after.
 */
export async function unsubscribe(registration) {
  const id = sessionStorage.getItem(SUBSCRIPTION_KEY);
  const token = session.token();
  sessionStorage.removeItem(SUBSCRIPTION_KEY);
  if (id !== null && token) {
    await fetch(`/api/v1/push/subscriptions/${encodeURIComponent(id)}`, {
      method: "DELETE",
      headers: { Authorization: `Bearer ${token}` },
    }).catch(() => {});
  }
  const subscription = await registration?.pushManager?.getSubscription().catch(() => null);
  await subscription?.unsubscribe().catch(() => {});
}
