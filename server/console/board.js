// The incident board: one row per incident, newest and most urgent first,
// kept current from the list and the live stream, with each row's age ticking.

const STATUS_ORDER = { open: 0, acknowledged: 1, resolved: 2 };

/** A kind as people read it: `proximity_alarm` becomes "proximity alarm". */
export function kindName(kind) {
  return String(kind ?? "alert").replace(/_/g, " ");
}

/** "12 s", "3 min 05 s", "2 h 10 min": how long ago `since` (RFC 3339) was. */
export function age(since, now = Date.now()) {
  const seconds = Math.max(0, Math.floor((now - Date.parse(since)) / 1000));
  if (!Number.isFinite(seconds)) return "";
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(seconds % 60).padStart(2, "0")} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${String(minutes % 60).padStart(2, "0")} min`;
  return `${Math.floor(hours / 24)} days`;
}

/** The alert an incident is named after: its most urgent, newest one. */
export function leadAlert(incident) {
  const alerts = [...(incident.alerts ?? [])];
  alerts.sort((a, b) => a.priority.localeCompare(b.priority) || b.updated_at.localeCompare(a.updated_at));
  return alerts[0] ?? null;
}

function newer(a, b) {
  return !b || a.updated_at >= b.updated_at;
}

/** The incidents the console knows, drawn into `list`. */
export class Board {
  constructor({ list, empty, onSelect }) {
    Object.assign(this, { list, empty, onSelect });
    this.incidents = new Map();
    this.rows = new Map();
    this.region = "";
    this.selected = null;
  }

  /** Replaces what is known with a fresh list from the API. */
  replace(incidents) {
    this.incidents.clear();
    incidents.forEach((incident) => this.incidents.set(incident.incident_id, incident));
    this.render();
  }

  /** Takes one incident as it stands now; an older copy than the one held is ignored. */
  upsert(incident) {
    const held = this.incidents.get(incident.incident_id);
    if (!newer(incident, held)) return false;
    this.incidents.set(incident.incident_id, incident);
    this.render();
    return true;
  }

  /** Shows only `region` (all when empty); incidents of no region always show. */
  filter(region) {
    this.region = region;
    this.render();
  }

  /** The regions of the incidents held. */
  regions() {
    return [...new Set([...this.incidents.values()].map((i) => i.region).filter(Boolean))].sort();
  }

  select(incidentId) {
    this.selected = incidentId;
    this.render();
  }

  visible() {
    return [...this.incidents.values()]
      .filter((i) => !this.region || !i.region || i.region === this.region)
      .sort(
        (a, b) =>
          (STATUS_ORDER[a.status] ?? 3) - (STATUS_ORDER[b.status] ?? 3) ||
          a.priority.localeCompare(b.priority) ||
          b.updated_at.localeCompare(a.updated_at),
      );
  }

  /** Redraws the list, keeping the rows that did not change, so a click in progress is not lost. */
  render() {
    const kept = new Map();
    const rows = this.visible().map((incident) => {
      const key = `${incident.updated_at}|${incident.status}|${incident.incident_id === this.selected}`;
      const held = this.rows.get(incident.incident_id);
      const item = held?.key === key ? held.item : this.row(incident);
      kept.set(incident.incident_id, { key, item });
      return item;
    });
    this.rows = kept;
    const current = [...this.list.children];
    if (current.length !== rows.length || current.some((item, i) => item !== rows[i])) {
      this.list.replaceChildren(...rows);
    }
    this.empty.hidden = rows.length > 0;
    this.tick();
  }

  row(incident) {
    const lead = leadAlert(incident);
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "incident";
    button.dataset.incidentId = incident.incident_id;
    button.dataset.priority = incident.priority;
    button.dataset.status = incident.status;
    if (incident.incident_id === this.selected) button.setAttribute("aria-current", "true");
    button.addEventListener("click", () => this.onSelect(incident.incident_id));

    const badge = span("priority", incident.priority);
    const title = span("title", kindName(lead?.kind));
    const status = span("status", incident.status);
    const where = span("where", [incident.region ?? "no region", incident.order_id].filter(Boolean).join(" · "));
    const summary = span("summary", lead?.summary ?? "");
    const since = span("age", "");
    since.dataset.since = incident.created_at;
    const parts = [badge, title, status, where, since, summary];
    if (incident.exercise) parts.splice(2, 0, span("exercise", "exercise"));
    if ((incident.alerts?.length ?? 0) > 1) parts.splice(2, 0, span("count", `${incident.alerts.length} alerts`));
    button.append(...parts);
    item.append(button);
    return item;
  }

  /** Updates every shown age. */
  tick() {
    const now = Date.now();
    this.list.querySelectorAll(".age").forEach((cell) => {
      cell.textContent = age(cell.dataset.since, now);
    });
  }
}

function span(className, text) {
  const element = document.createElement("span");
  element.className = className;
  element.textContent = text;
  return element;
}
