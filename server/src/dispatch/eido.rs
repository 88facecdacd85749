//! An alert revision as a NENA EIDO (NENA-STA-021) JSON object, using only
//! components and fields of `EmergencyIncidentDataObjectType` in NENA's EIDO
//! openapi document.
//!
//! - The EIDO and its `incidentComponent` are the incident
//!   `urn:emergency:uid:incidentid:{alert_id}:{agency}`; revisions of one
//!   alert update the same incident (`lastUpdateTimeStamp` = `updated_at`).
//! - `incidentComponent`: type (internal code = kind, internal text = kind in
//!   words), status (internal texts: the alert status, plus `cleared`,
//!   `exercise` and `late` when they hold), priority (internal text `P1`..`P3`;
//!   common number on NENA's 0–10 scale, 10 highest: P1 → 10, P2 → 6, P3 → 2),
//!   `internalIncidentId` = alert id, `beatOrDispatchGroupText` = region,
//!   `documentIdentification` = the protection order id.
//! - `locationComponent`: one per known position (relevant one first, as in
//!   CAP), a PIDF-LO `gs:Circle` (WGS 84, radius = the fix's accuracy in m) by
//!   value, the device as `localIdentifier`.
//! - `agencyComponent`: the issuing agency; `notesComponent`: the summary;
//!   `additionalDataComponent`: the JSON body itself (docs/api.md#the-request), so every
//!   field (revision, count, late, confidence, distance) reaches dispatch.
//!
//! The NENA registry texts (`*RegistryText`) could not be checked against the
//! registries, which are not published with the EIDO document; they are the
//! constants below.

use quick_xml::escape::escape;
use serde_json::{Value, json};
use vangnet_proto::{AlertStatus, DispatchBody, Party, Priority, UtcTime};

use super::cap::{event_name, kind_code, positions, priority_code, status_code};

/// `incidentTypeCommonRegistryText` of every Vangnet alert.
const INCIDENT_TYPE: &str = "Law Enforcement";
/// `locationTypeDescriptionRegistryText` of the position the alert is about.
const LOCATION_INCIDENT: &str = "Incident";
/// `locationTypeDescriptionRegistryText` of the other party's position.
const LOCATION_OTHER: &str = "Other";
/// `agencyRoleDescriptionRegistryText` of the issuing agency.
const AGENCY_ROLE: &str = "Alarm Monitoring";
/// `agencyType` of the issuing agency (IANA urn:emergency:service:responder).
const AGENCY_TYPE: &str = "police";

/// Renders one alert revision as an EIDO issued by `agency`.
pub fn render(body: &DispatchBody, agency: &str) -> Value {
    let incident_id = format!("urn:emergency:uid:incidentid:{}:{agency}", body.alert_id);
    let prefix = format!("urn:vangnet:{agency}:alert:{}", body.alert_id);
    let updated = body.updated_at.to_string();
    let by_agency = json!({ "$ref": agency });
    let locations: Vec<Value> = positions(body)
        .into_iter()
        .enumerate()
        .map(|(index, (role, party))| location(&prefix, agency, index == 0, role, party))
        .collect();
    let location_refs: Vec<Value> = locations
        .iter()
        .map(|location| json!({ "$ref": location["$id"] }))
        .collect();
    let note_id = format!("{prefix}:note");
    let data_id = format!("{prefix}:body");
    let mut incident = json!({
        "$id": incident_id,
        "lastUpdateTimeStamp": updated,
        "updatedByAgencyReference": by_agency,
        "incidentTypeCommonRegistryText": INCIDENT_TYPE,
        "incidentTypeInternalCode": kind_code(body.kind),
        "incidentTypeInternalText": event_name(body.kind),
        "incidentStatusInternalText": statuses(body),
        "internalIncidentId": body.alert_id.as_str(),
        "incidentPriorityInternalText": priority_code(body.priority),
        "incidentCommonPriorityNumber": common_priority(body.priority),
        "notesReference": [{ "$ref": note_id }],
    });
    if !location_refs.is_empty() {
        incident["locationReference"] = Value::Array(location_refs);
    }
    if let Some(region) = &body.region {
        incident["beatOrDispatchGroupText"] = json!(region);
    }
    if let Some(order) = &body.order_id {
        incident["documentIdentification"] = json!([order.as_str()]);
    }
    let mut eido = json!({
        "$id": incident_id,
        "lastUpdateTimeStamp": updated,
        "updatedByAgencyReference": by_agency,
        "eidoVersion": "1.0",
        "issuingElementIdentification": agency,
        "incidentComponent": incident,
        "agencyComponent": [{
            "$id": agency,
            "lastUpdateTimeStamp": updated,
            "updatedByAgencyReference": by_agency,
            "agencyRoleDescriptionRegistryText": [AGENCY_ROLE],
            "agencyType": [AGENCY_TYPE],
        }],
        "notesComponent": [{
            "$id": note_id,
            "lastUpdateTimeStamp": updated,
            "updatedByAgencyReference": by_agency,
            "notesActionComments": note(body),
        }],
        "additionalDataComponent": [{
            "$id": data_id,
            "lastUpdateTimeStamp": updated,
            "updatedByAgencyReference": by_agency,
            "additionalDataByValue": serde_json::to_string(body).unwrap_or_default(),
        }],
    });
    if !locations.is_empty() {
        eido["locationComponent"] = Value::Array(locations);
    }
    eido
}

/// NENA's common priority, 0 (lowest) to 10 (highest).
fn common_priority(priority: Priority) -> i32 {
    match priority {
        Priority::P1 => 10,
        Priority::P2 => 6,
        Priority::P3 => 2,
    }
}

fn statuses(body: &DispatchBody) -> Vec<&'static str> {
    let mut out = vec![status_code(body.status)];
    if body.cleared_at.is_some() && body.status != AlertStatus::Resolved {
        out.push("cleared");
    }
    if body.exercise {
        out.push("exercise");
    }
    if body.late {
        out.push("late");
    }
    out
}

/// The summary as HTML5 text, marked when it is an exercise.
fn note(body: &DispatchBody) -> String {
    let mark = if body.exercise { "EXERCISE: " } else { "" };
    format!("{mark}{}", escape(body.summary.as_str()))
}

fn location(prefix: &str, agency: &str, relevant: bool, role: &str, party: &Party) -> Value {
    let who = if role == "victim" {
        "Protected person"
    } else {
        "Perpetrator"
    };
    json!({
        "$id": format!("{prefix}:location:{role}"),
        "lastUpdateTimeStamp": UtcTime(party.ts).to_string(),
        "updatedByAgencyReference": { "$ref": agency },
        "locationTypeDescriptionRegistryText": if relevant { LOCATION_INCIDENT } else { LOCATION_OTHER },
        "locationByValue": pidf_lo(role, party),
        "locationDescriptionText": format!(
            "{who} position: device {}, accuracy {:.0} m", party.device, party.acc.get()
        ),
        "localIdentifier": [party.device.as_str()],
    })
}

/// A PIDF-LO (RFC 4119, RFC 5491) document with one circle around the fix.
fn pidf_lo(role: &str, party: &Party) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<presence xmlns="urn:ietf:params:xml:ns:pidf" "#,
            r#"xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" "#,
            r#"xmlns:gml="http://www.opengis.net/gml" "#,
            r#"xmlns:gs="http://www.opengis.net/pidflo/1.0" entity="pres:{device}@vangnet">"#,
            r#"<tuple id="{role}"><status><gp:geopriv><gp:location-info>"#,
            r#"<gs:Circle srsName="urn:ogc:def:crs:EPSG::4326">"#,
            r#"<gml:pos>{lat:.6} {lon:.6}</gml:pos>"#,
            r#"<gs:radius uom="urn:ogc:def:uom:EPSG::9001">{acc:.1}</gs:radius>"#,
            r#"</gs:Circle></gp:location-info><gp:usage-rules/>"#,
            r#"<gp:method>GPS</gp:method></gp:geopriv></status>"#,
            r#"<timestamp>{ts}</timestamp></tuple></presence>"#,
        ),
        device = escape(party.device.as_str()),
        role = escape(role),
        lat = party.lat.get(),
        lon = party.lon.get(),
        acc = party.acc.get(),
        ts = UtcTime(party.ts),
    )
}
