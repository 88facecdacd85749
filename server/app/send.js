// Sending to the device endpoint, for the page and the service worker:
// each queued alarm is posted with the same seq and ts until a receipt
// comes back, so that Vangnet counts every retry as the same alarm.
"use strict";

const vangnetSend = (() => {
  function authorization(credentials) {
    const bytes = new TextEncoder().encode(`${credentials.device}:${credentials.password}`);
    let binary = "";
    bytes.forEach((b) => { binary += String.fromCharCode(b); });
    return `Basic ${btoa(binary)}`;
  }

  // `method` on a device path as the signed-in device, with an optional JSON body.
  async function call(method, path, credentials, message) {
    const headers = { Authorization: authorization(credentials) };
    if (message !== undefined) headers["Content-Type"] = "application/json";
    return fetch(path, {
      method,
      headers,
      body: message === undefined ? undefined : JSON.stringify(message),
      cache: "no-store",
      credentials: "omit",
    });
  }

  async function post(path, message, credentials) {
    return call("POST", path, credentials, message);
  }

  // Posts every queued alarm once; resolves to true when the outbox is empty.
  // A receipt is stored and announced to every open page.
  async function flushOutbox(announce) {
    const credentials = await vangnetStore.get("credentials");
    if (!credentials) return true;
    const queued = await vangnetStore.queued();
    for (const alarm of queued) {
      let response;
      try {
        response = await post("/device/v1/alarm", alarm, credentials);
      } catch (offline) {
        return false;
      }
      if (response.status === 200) {
        const receipt = await response.json();
        await vangnetStore.put("receipt", { ...receipt, alarm_seq: alarm.seq });
        await vangnetStore.dequeue(alarm.seq);
        announce({ type: "receipt", receipt });
      } else if (response.status === 401) {
        announce({ type: "refused" });
        return false;
      } else if (response.status === 400) {
        await vangnetStore.dequeue(alarm.seq);
        announce({ type: "invalid", error: (await response.json()).error });
      }
    }
    return (await vangnetStore.queued()).length === 0;
  }

  return { call, post, flushOutbox };
})();
