// The incident detail: its alerts, the chosen alert's timeline, the map, and
// acknowledge and resolve with a note.

import { api } from "./api.js";
import { kindName } from "./board.js";
import { drawMap } from "./map.js";

const $ = (id) => document.getElementById(id);

function time(rfc3339) {
  const date = new Date(rfc3339);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleString();
}

/** The positions an alert and its order's state give, newest per device. */
function positions(alert, state) {
  const found = new Map();
  const put = (role, fix) => {
    if (!fix || !fix.device) return;
    const held = found.get(fix.device);
    if (!held || (fix.ts ?? 0) > (held.ts ?? 0)) found.set(fix.device, { ...fix, role, label: `${role} ${fix.device}` });
  };
  for (const device of state?.devices ?? []) {
    if (device.position) put(device.role, { ...device.position, device: device.device });
  }
  put("victim", alert.victim);
  put("perpetrator", alert.perpetrator);
  return [...found.values()];
}

/** The detail pane; `onMessage` shows a message, `onChanged` takes a new revision. */
export class Detail {
  constructor({ tileUrl, onMessage, onClose }) {
    Object.assign(this, { tileUrl, onMessage, onClose });
    this.incident = null;
    this.alertId = null;
    this.alert = null;
    $("close-detail").addEventListener("click", () => this.close());
    $("ack").addEventListener("click", () => this.act("ack"));
    $("resolve").addEventListener("click", () => this.act("resolve"));
  }

  get open() {
    return this.incident !== null;
  }

  /** Shows `incident`, on `alertId` or its first open alert. */
  async show(incident, alertId) {
    const changed = this.incident?.incident_id !== incident.incident_id;
    this.incident = incident;
    const alerts = incident.alerts ?? [];
    const chosen =
      alerts.find((a) => a.alert_id === alertId) ??
      (changed ? null : alerts.find((a) => a.alert_id === this.alertId)) ??
      alerts.find((a) => a.status !== "resolved") ??
      alerts[0];
    this.alertId = chosen?.alert_id ?? null;
    if (changed) {
      $("note").value = "";
      $("ack").disabled = true;
      $("resolve").disabled = true;
    }
    $("detail").hidden = false;
    document.body.dataset.detail = "open";
    this.renderIncident();
    await this.load();
  }

  /** Takes an incident fresh from the stream, if it is the one shown. */
  refresh(incident) {
    if (this.incident?.incident_id === incident.incident_id) this.show(incident, this.alertId);
  }

  close() {
    this.incident = null;
    this.alertId = null;
    $("detail").hidden = true;
    delete document.body.dataset.detail;
    this.onClose();
  }

  renderIncident() {
    const incident = this.incident;
    const detail = $("detail");
    detail.dataset.priority = incident.priority;
    detail.dataset.status = incident.status;
    const tabs = (incident.alerts ?? []).map((alert) => {
      const tab = document.createElement("button");
      tab.type = "button";
      tab.className = "alert-tab";
      tab.dataset.priority = alert.priority;
      tab.dataset.status = alert.status;
      tab.textContent = `${alert.priority} ${kindName(alert.kind)} · ${alert.status}`;
      if (alert.alert_id === this.alertId) tab.setAttribute("aria-current", "true");
      tab.addEventListener("click", () => this.show(this.incident, alert.alert_id));
      return tab;
    });
    $("detail-alerts").replaceChildren(...tabs);
  }

  async load() {
    const alertId = this.alertId;
    if (!alertId) return;
    try {
      const alert = await api(`/api/v1/alerts/${encodeURIComponent(alertId)}`);
      if (alertId !== this.alertId) return;
      this.alert = alert;
      this.renderAlert(alert);
      await this.loadMap(alert);
    } catch (error) {
      this.onMessage(error.message);
    }
  }

  renderAlert(alert) {
    $("detail-title").textContent = `${alert.priority} ${kindName(alert.kind)}${alert.exercise ? " (exercise)" : ""}`;
    $("detail-summary").textContent = alert.summary ?? "";
    const facts = [
      `status ${alert.status}`,
      alert.region ? `region ${alert.region}` : "no region",
      alert.order_id ? `order ${alert.order_id}` : null,
      alert.late ? "arrived late" : null,
      alert.count > 1 ? `${alert.count} presses` : null,
      `raised ${time(alert.created_at)}`,
    ].filter(Boolean);
    $("detail-facts").textContent = facts.join(" · ");
    $("ack").disabled = alert.status !== "open";
    $("resolve").disabled = alert.status === "resolved";
    $("note").disabled = alert.status === "resolved";
    const entries = (alert.timeline ?? []).map((revision) => {
      const item = document.createElement("li");
      item.dataset.status = revision.status;
      const when = document.createElement("time");
      when.dateTime = revision.updated_at;
      when.textContent = time(revision.updated_at);
      const what = document.createElement("span");
      what.className = "what";
      what.textContent = `revision ${revision.revision}: ${revision.status}`;
      item.append(when, what);
      if (revision.act) {
        const act = document.createElement("span");
        act.className = "act";
        act.textContent = `${revision.act.actor}${revision.act.note ? `: “${revision.act.note}”` : ""}`;
        item.append(act);
      }
      return item;
    });
    $("timeline").replaceChildren(...entries);
  }

  async loadMap(alert) {
    let state = null;
    if (alert.order_id) {
      try {
        state = await api(`/api/v1/orders/${encodeURIComponent(alert.order_id)}/state`);
      } catch (error) {
        if (error.status !== 404) this.onMessage(error.message);
      }
    }
    if (alert.alert_id !== this.alertId) return;
    const drawn = drawMap($("map"), state?.zone_areas ?? [], positions(alert, state), this.tileUrl);
    $("map-caption").textContent = drawn
      ? "Zones (solid), pre-alarm rings (dashed), latest positions with their accuracy."
      : "No zones or positions to draw.";
  }

  async act(action) {
    const note = $("note").value.trim();
    if (action === "resolve" && note === "") {
      this.onMessage("Write a note before resolving: what was done.");
      $("note").focus();
      return;
    }
    const buttons = [$("ack"), $("resolve")];
    buttons.forEach((button) => (button.disabled = true));
    try {
      await api(`/api/v1/alerts/${encodeURIComponent(this.alertId)}/${action}`, {
        method: "POST",
        body: note ? { note } : {},
      });
      $("note").value = "";
      this.onMessage(null);
    } catch (error) {
      this.onMessage(error.message);
    }
    await this.load();
  }
}
