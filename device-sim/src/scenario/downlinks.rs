//! What Vangnet tells a device may hold only the contract's fields: a receipt
//! names the alarm and its alerts, a warning its level and alert. Neither
//! may carry a position, a distance or anything else about the other party
//! (the contract's section 3), so any other field fails the run.

use serde_json::{Map, Value};

/// The fields of a receipt (`ack`).
const RECEIPT: [&str; 3] = ["seq", "alert_ids", "ts"];
/// The fields of a warning (`cmd`).
const WARNING: [&str; 4] = ["kind", "level", "alert_id", "ts"];

/// Why a device message on `topic` says more than the contract allows, if it does.
pub fn overshares(topic: &str, payload: &[u8]) -> Option<String> {
    let allowed: &[&str] = if topic.ends_with("/ack") {
        &RECEIPT
    } else if topic.ends_with("/cmd") {
        &WARNING
    } else {
        return None;
    };
    let fields = match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(fields)) => fields,
        _ => return Some(format!("{topic}: not a JSON object")),
    };
    let extra = extra_fields(&fields, allowed);
    (!extra.is_empty()).then(|| format!("{topic}: fields beyond the contract: {extra:?}"))
}

fn extra_fields<'a>(fields: &'a Map<String, Value>, allowed: &[&str]) -> Vec<&'a str> {
    fields
        .keys()
        .map(String::as_str)
        .filter(|key| !allowed.contains(key))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warning_with_the_contracts_fields_says_no_more() {
        let warning = br#"{"kind":"warning","level":"alarm","alert_id":"a-1","ts":1}"#;
        assert_eq!(overshares("v/devices/v-1/cmd", warning), None);
    }

    #[test]
    fn a_warning_with_a_distance_overshares() {
        let warning =
            br#"{"kind":"warning","level":"alarm","alert_id":"a-1","ts":1,"distance_m":80}"#;
        assert!(overshares("v/devices/v-1/cmd", warning).is_some());
    }

    #[test]
    fn a_receipt_with_a_position_overshares() {
        let receipt = br#"{"seq":1,"alert_ids":["a-1"],"ts":1,"lat":51.9}"#;
        assert!(overshares("v/devices/v-1/ack", receipt).is_some());
    }
}
