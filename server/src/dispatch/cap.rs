//! An alert revision as an OASIS CAP 1.2 message (docs/api.md#cap-and-eido).
//!
//! Message:
//! - `identifier` `{alert_id}-{revision}`; `sent` the revision's `updated_at`
//!   to the second, written `+00:00` (the XSD's pattern forbids `Z` and
//!   fractions); `status` `Exercise` for exercise alerts, else `Actual`.
//! - `msgType`: revision 1 → `Alert`; a resolved alert → `Cancel`; any other
//!   revision → `Update`. A cleared condition is an `Update`, not a `Cancel`:
//!   P1 and P2 stay open until a person resolves them (docs/detection.md#alert-status).
//! - `references` (Update, Cancel) names the episode's first message,
//!   `sender,{alert_id}-1,{created_at}`: the only earlier message whose `sent`
//!   a revision knows (revision 1 is made at `created_at`). `incidents` is the
//!   alert id, which groups all revisions of one episode.
//! - `scope` `Restricted` with a `restriction`: the message carries the
//!   positions of a protected person.
//!
//! Info (one block):
//!
//! | priority | urgency   | severity |
//! |----------|-----------|----------|
//! | P1       | Immediate | Extreme  |
//! | P2       | Expected  | Severe   |
//! | P3       | Future    | Moderate |
//!
//! A resolved alert has urgency `Past` (no action needed any more).
//!
//! | certainty | when |
//! |-----------|------|
//! | Observed  | confidence `certain`; panic, fall, tamper, strap, separation, signal, battery (reported by a device or seen by the server) |
//! | Likely    | confidence `possible` (the uncertainty admits a violation; Vangnet alarms on it); pre-alarms and approach (no confidence) |
//!
//! `category` is `Security` (law enforcement) for every kind, plus `Rescue`
//! and `Health` for `fall`. `event` names the kind in words and `eventCode`
//! `kind` carries its code. `headline` is the summary (at most 160
//! characters), `description` the whole summary. `parameter`s: order_id,
//! region, kind, priority, confidence, status, revision, count, late, zone,
//! distance_m, created_at, cleared_at (absent values left out). One `area` per
//! known position, the relevant one first (the perpetrator for zone,
//! proximity and perpetrator-device kinds, the victim for panics and falls),
//! each a `circle` `lat,lon radius_km` with the fix's accuracy as radius, at
//! least 0.1 km; no area when no position is known (the XSD allows that).

use std::io;
use std::time::{Duration, UNIX_EPOCH};

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use vangnet_proto::{AlertKind, AlertStatus, Confidence, DispatchBody, Party, Priority, UtcTime};

/// The CAP 1.2 namespace.
pub const NAMESPACE: &str = "urn:oasis:names:tc:emergency:cap:1.2";
/// Longest `headline` CAP recommends.
const HEADLINE_MAX: usize = 160;
/// Smallest circle radius written, in km.
const MIN_RADIUS_KM: f64 = 0.1;
/// Why the message is restricted.
const RESTRICTION: &str =
    "Police dispatch only: contains the positions of a protected person and of a perpetrator";

/// Why an alert revision could not be written as CAP.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// CAP forbids spaces, commas, `<` and `&` in `sender`, and it must not be empty.
    #[error("CAP sender {0:?} is empty or contains a space, comma, '<' or '&'")]
    Sender(String),
    /// The XML writer failed.
    #[error("writing CAP XML: {0}")]
    Write(#[from] io::Error),
    /// The written XML was not UTF-8.
    #[error("CAP XML is not UTF-8: {0}")]
    Utf8(#[from] std::string::FromUtf8Error),
}

/// Renders one alert revision as a CAP 1.2 `<alert>` document from `sender`.
pub fn render(body: &DispatchBody, sender: &str) -> Result<String, FormatError> {
    if sender.is_empty() || sender.contains(forbidden_in_id) {
        return Err(FormatError::Sender(sender.to_owned()));
    }
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    writer
        .create_element("alert")
        .with_attribute(("xmlns", NAMESPACE))
        .write_inner_content(|w| write_alert(w, body, sender))?;
    Ok(String::from_utf8(writer.into_inner())?)
}

type W = Writer<Vec<u8>>;

fn write_alert(w: &mut W, body: &DispatchBody, sender: &str) -> io::Result<()> {
    let id = safe_id(body.alert_id.as_str());
    text(w, "identifier", &format!("{id}-{}", body.revision))?;
    text(w, "sender", sender)?;
    text(w, "sent", &cap_time(body.updated_at))?;
    text(
        w,
        "status",
        if body.exercise { "Exercise" } else { "Actual" },
    )?;
    let msg_type = msg_type(body);
    text(w, "msgType", msg_type)?;
    text(w, "scope", "Restricted")?;
    text(w, "restriction", RESTRICTION)?;
    if body.exercise {
        text(
            w,
            "note",
            "Exercise: alert from a simulation or pilot order",
        )?;
    }
    if msg_type != "Alert" {
        let first = format!("{sender},{id}-1,{}", cap_time(body.created_at));
        text(w, "references", &first)?;
    }
    text(w, "incidents", &id)?;
    w.create_element("info")
        .write_inner_content(|w| write_info(w, body))?;
    Ok(())
}

fn write_info(w: &mut W, body: &DispatchBody) -> io::Result<()> {
    for category in categories(body.kind) {
        text(w, "category", category)?;
    }
    text(w, "event", event_name(body.kind))?;
    text(w, "urgency", urgency(body))?;
    text(w, "severity", severity(body.priority))?;
    text(w, "certainty", certainty(body))?;
    pair(w, "eventCode", "kind", kind_code(body.kind))?;
    text(w, "onset", &cap_time(body.created_at))?;
    text(w, "senderName", "Vangnet")?;
    let headline: String = body.summary.chars().take(HEADLINE_MAX).collect();
    text(w, "headline", &headline)?;
    text(w, "description", &body.summary)?;
    for (name, value) in parameters(body) {
        pair(w, "parameter", name, &value)?;
    }
    for (role, party) in positions(body) {
        w.create_element("area").write_inner_content(|w| {
            text(w, "areaDesc", &area_desc(role, party))?;
            text(w, "circle", &circle(party))
        })?;
    }
    Ok(())
}

/// `Alert` for revision 1, `Cancel` once resolved, `Update` otherwise.
fn msg_type(body: &DispatchBody) -> &'static str {
    match (body.revision, body.status) {
        (0 | 1, _) => "Alert",
        (_, AlertStatus::Resolved) => "Cancel",
        _ => "Update",
    }
}

fn urgency(body: &DispatchBody) -> &'static str {
    if body.status == AlertStatus::Resolved {
        return "Past";
    }
    match body.priority {
        Priority::P1 => "Immediate",
        Priority::P2 => "Expected",
        Priority::P3 => "Future",
    }
}

fn severity(priority: Priority) -> &'static str {
    match priority {
        Priority::P1 => "Extreme",
        Priority::P2 => "Severe",
        Priority::P3 => "Moderate",
    }
}

fn certainty(body: &DispatchBody) -> &'static str {
    match (body.confidence, body.kind) {
        (Some(Confidence::Certain), _) => "Observed",
        (Some(Confidence::Possible), _) => "Likely",
        (
            None,
            AlertKind::ZoneAlarm
            | AlertKind::ZonePrealarm
            | AlertKind::ProximityAlarm
            | AlertKind::ProximityPrealarm
            | AlertKind::ProximityApproach,
        ) => "Likely",
        (None, _) => "Observed",
    }
}

fn categories(kind: AlertKind) -> &'static [&'static str] {
    match kind {
        AlertKind::Fall => &["Security", "Rescue", "Health"],
        _ => &["Security"],
    }
}

/// The kind's code as in the JSON body (`proximity_alarm`).
pub(crate) fn kind_code(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::Panic => "panic",
        AlertKind::PanicUnassigned => "panic_unassigned",
        AlertKind::ZoneAlarm => "zone_alarm",
        AlertKind::ZonePrealarm => "zone_prealarm",
        AlertKind::ProximityAlarm => "proximity_alarm",
        AlertKind::ProximityPrealarm => "proximity_prealarm",
        AlertKind::ProximityApproach => "proximity_approach",
        AlertKind::Tamper => "tamper",
        AlertKind::StrapOpen => "strap_open",
        AlertKind::Separation => "separation",
        AlertKind::Fall => "fall",
        AlertKind::SignalLost => "signal_lost",
        AlertKind::BatteryLow => "battery_low",
    }
}

/// The kind in words, for dispatchers.
pub(crate) fn event_name(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::Panic => "Panic button pressed by protected person",
        AlertKind::PanicUnassigned => "Panic button pressed on a device in no active order",
        AlertKind::ZoneAlarm => "Perpetrator inside exclusion zone",
        AlertKind::ZonePrealarm => "Perpetrator near exclusion zone",
        AlertKind::ProximityAlarm => "Perpetrator within alarm distance of protected person",
        AlertKind::ProximityPrealarm => "Perpetrator within pre-alarm distance of protected person",
        AlertKind::ProximityApproach => "Perpetrator closing in on protected person",
        AlertKind::Tamper => "Perpetrator tag tampered with",
        AlertKind::StrapOpen => "Perpetrator strap opened",
        AlertKind::Separation => "Perpetrator tag separated from its unit",
        AlertKind::Fall => "Fall of protected person",
        AlertKind::SignalLost => "Monitoring device silent",
        AlertKind::BatteryLow => "Monitoring device battery low",
    }
}

/// `P1`, `P2` or `P3`.
pub(crate) fn priority_code(priority: Priority) -> &'static str {
    match priority {
        Priority::P1 => "P1",
        Priority::P2 => "P2",
        Priority::P3 => "P3",
    }
}

/// The status as in the JSON body.
pub(crate) fn status_code(status: AlertStatus) -> &'static str {
    match status {
        AlertStatus::Open => "open",
        AlertStatus::Acknowledged => "acknowledged",
        AlertStatus::Resolved => "resolved",
    }
}

fn parameters(body: &DispatchBody) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(order) = &body.order_id {
        out.push(("order_id", order.to_string()));
    }
    if let Some(region) = &body.region {
        out.push(("region", region.clone()));
    }
    out.push(("kind", kind_code(body.kind).to_owned()));
    out.push(("priority", priority_code(body.priority).to_owned()));
    if let Some(confidence) = body.confidence {
        let code = match confidence {
            Confidence::Certain => "certain",
            Confidence::Possible => "possible",
        };
        out.push(("confidence", code.to_owned()));
    }
    out.push(("status", status_code(body.status).to_owned()));
    out.push(("revision", body.revision.to_string()));
    out.push(("count", body.count.to_string()));
    out.push(("late", body.late.to_string()));
    if let Some(zone) = &body.zone {
        out.push(("zone", zone.to_string()));
    }
    if let Some(distance) = body.distance_m {
        out.push(("distance_m", format!("{distance:.1}")));
    }
    out.push(("created_at", cap_time(body.created_at)));
    if let Some(cleared) = body.cleared_at {
        out.push(("cleared_at", cap_time(cleared)));
    }
    out
}

/// The known positions, the one the alert is about first.
pub(crate) fn positions(body: &DispatchBody) -> Vec<(&'static str, &Party)> {
    let victim = body.victim.as_ref().map(|p| ("victim", p));
    let perpetrator = body.perpetrator.as_ref().map(|p| ("perpetrator", p));
    let victim_first = matches!(
        body.kind,
        AlertKind::Panic | AlertKind::PanicUnassigned | AlertKind::Fall
    );
    let ordered = if victim_first {
        [victim, perpetrator]
    } else {
        [perpetrator, victim]
    };
    ordered.into_iter().flatten().collect()
}

fn area_desc(role: &str, party: &Party) -> String {
    let who = if role == "victim" {
        "Protected person"
    } else {
        "Perpetrator"
    };
    format!(
        "{who} position: device {}, accuracy {:.0} m, fix at {}",
        party.device,
        party.acc.get(),
        cap_time(UtcTime(party.ts))
    )
}

/// `lat,lon radius_km` in WGS 84, the fix's accuracy as radius (at least 0.1 km).
fn circle(party: &Party) -> String {
    let radius_km = (party.acc.get() / 1000.0).max(MIN_RADIUS_KM);
    format!(
        "{:.6},{:.6} {radius_km:.3}",
        party.lat.get(),
        party.lon.get()
    )
}

/// CAP's dateTime: seconds, offset `+00:00`, no `Z` (the XSD's pattern).
pub fn cap_time(time: UtcTime) -> String {
    let seconds = time.0.millis() / 1000;
    let at = UNIX_EPOCH + Duration::from_secs(seconds);
    let text = humantime::format_rfc3339_seconds(at).to_string();
    format!("{}+00:00", text.trim_end_matches('Z'))
}

fn forbidden_in_id(c: char) -> bool {
    c.is_whitespace() || matches!(c, ',' | '<' | '&')
}

/// The alert id with characters CAP forbids in identifiers replaced by `_`.
fn safe_id(id: &str) -> String {
    id.chars()
        .map(|c| if forbidden_in_id(c) { '_' } else { c })
        .collect()
}

/// Characters XML 1.0 cannot carry at all (control characters) are dropped.
fn xml_chars(value: &str) -> String {
    value
        .chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
        })
        .collect()
}

fn text(w: &mut W, name: &str, value: &str) -> io::Result<()> {
    w.create_element(name)
        .write_text_content(BytesText::new(&xml_chars(value)))?;
    Ok(())
}

fn pair(w: &mut W, element: &str, name: &str, value: &str) -> io::Result<()> {
    w.create_element(element).write_inner_content(|w| {
        text(w, "valueName", name)?;
        text(w, "value", value)
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vangnet_proto::TimestampMs;

    #[test]
    fn cap_time_has_offset_and_no_fraction() {
        let time = UtcTime(TimestampMs(1_764_331_231_004));
        assert_eq!(cap_time(time), "2025-11-28T12:00:31+00:00");
    }

    #[test]
    fn forbidden_id_characters_are_replaced() {
        assert_eq!(safe_id("a b,c<d&e"), "a_b_c_d_e");
    }

    #[test]
    fn control_characters_are_dropped() {
        assert_eq!(xml_chars("a\u{1}b\tc\u{FFFF}"), "ab\tc");
    }
}
