// The live alert stream, read with fetch() so the token travels in the
// Authorization header (an EventSource cannot send it, and a token in the
// URL would land in logs). After a drop it reconnects with Last-Event-ID,
// so nothing is missed or shown twice.

const PATH = "/api/v1/alerts/stream";
const FIRST_RETRY_MS = 500;
const LAST_RETRY_MS = 5000;
const MAX_BUFFER = 8 * 1024 * 1024;

/** Parses one Server-Sent Events block into `{id, event, data}`, or null for a comment. */
export function parseEvent(block) {
  let id = null;
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "id") id = value;
    else if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  if (id === null && data.length === 0) return null;
  return { id, event, data: data.join("\n") };
}

/**
 * Keeps one stream open while started. Tells `onState` "connecting",
 * "live" or "reconnecting"; hands each event to `onEvent(event, json)`;
 * calls `onOpen(fresh)` on each connection, `fresh` when it could not
 * resume (no event had come yet), so what happened meanwhile must be read
 * from the list; calls `onRefused(status)` when the API refuses the token
 * or its role (then it stops).
 */
export class LiveStream {
  constructor({ token, onEvent, onState, onOpen, onRefused }) {
    Object.assign(this, { token, onEvent, onState, onOpen, onRefused });
    this.lastEventId = null;
    this.controller = null;
    this.running = false;
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.run();
  }

  stop() {
    this.running = false;
    this.controller?.abort();
  }

  async run() {
    let retry = FIRST_RETRY_MS;
    let first = true;
    while (this.running) {
      this.onState(first ? "connecting" : "reconnecting");
      const resuming = this.lastEventId !== null;
      try {
        const response = await this.connect();
        if (response.status === 401 || response.status === 403) {
          this.running = false;
          this.onRefused(response.status);
          return;
        }
        if (response.status === 400 && this.lastEventId !== null) {
          // An id this server does not know (another store): start afresh and reload.
          this.lastEventId = null;
          continue;
        }
        if (response.ok && response.body) {
          this.onState("live");
          this.onOpen(!resuming);
          first = false;
          retry = FIRST_RETRY_MS;
          await this.read(response.body);
        }
      } catch {
        // A drop or a refused connection: retried below.
      }
      if (!this.running) return;
      this.onState(first ? "connecting" : "reconnecting");
      await new Promise((resolve) => setTimeout(resolve, retry));
      retry = Math.min(retry * 2, LAST_RETRY_MS);
    }
  }

  connect() {
    this.controller = new AbortController();
    const headers = { Accept: "text/event-stream", Authorization: `Bearer ${this.token()}` };
    if (this.lastEventId !== null) headers["Last-Event-ID"] = this.lastEventId;
    return fetch(PATH, { headers, cache: "no-store", signal: this.controller.signal });
  }

  async read(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, "\n");
      if (buffer.length > MAX_BUFFER) throw new Error("an event larger than the console takes");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = parseEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (event) this.deliver(event);
      }
    }
  }

  deliver({ id, event, data }) {
    let json = null;
    try {
      json = JSON.parse(data);
    } catch {
      return;
    }
    this.onEvent(event, json);
    if (id !== null) this.lastEventId = id;
  }
}
