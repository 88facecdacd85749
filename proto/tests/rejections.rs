//! One test per rejection rule of docs/protocol.md#rejected-messages, plus what must be accepted.

use vangnet_proto::{
    AlarmKind, Channel, DeviceId, ProtoError, RejectReason, StatusKind, TimestampMs, Uplink,
    parse_alarm, parse_loc, parse_status, parse_uplink,
};

const NOW: TimestampMs = TimestampMs(1_764_331_300_000);
const FIX: &str = r#"{"seq":17,"ts":1764331200000,"lat":51.9225,"lon":4.4792,"acc":8.5}"#;

fn device() -> DeviceId {
    DeviceId::parse("v-17", "device").unwrap()
}

fn loc_error(payload: &str) -> ProtoError {
    parse_loc(payload.as_bytes(), &device(), NOW).unwrap_err()
}

fn fix_with(field: &str, value: &str) -> String {
    let mut object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(FIX).unwrap();
    object.remove(field);
    let body = serde_json::to_string(&object).unwrap();
    format!(r#"{{"{field}":{value},{}"#, &body[1..])
}

#[test]
fn a_valid_fix_is_accepted_with_all_its_fields() {
    let payload = r#"{"seq":17,"ts":1764331200000,"lat":51.9225,"lon":4.4792,"acc":8.5,"spd":1.2,"hdg":270,"alt":3,"src":"gps","batt":64,"device":"v-17"}"#;
    let fixes = parse_loc(payload.as_bytes(), &device(), NOW).unwrap();
    assert_eq!(fixes.len(), 1);
    assert_eq!(fixes[0].seq, 17);
    assert_eq!(fixes[0].lat.get(), 51.9225);
    assert_eq!(fixes[0].batt.map(|b| b.get()), Some(64.0));
}

#[test]
fn a_batch_is_accepted_fix_by_fix() {
    let payload = format!(r#"{{"fixes":[{FIX},{}]}}"#, fix_with("seq", "18"));
    let fixes = parse_loc(payload.as_bytes(), &device(), NOW).unwrap();
    assert_eq!(fixes.iter().map(|f| f.seq).collect::<Vec<_>>(), [17, 18]);
}

#[test]
fn not_json_is_rejected() {
    assert_eq!(
        loc_error("{\"seq\":17,"),
        ProtoError::new("payload", RejectReason::NotJson)
    );
    assert_eq!(loc_error("hello").reason, RejectReason::NotJson);
}

#[test]
fn a_field_of_the_wrong_type_is_rejected_by_name() {
    assert_eq!(
        loc_error(&fix_with("lat", "\"51.9\"")),
        ProtoError::new("lat", RejectReason::WrongType)
    );
    assert_eq!(
        loc_error(&fix_with("seq", "-1")),
        ProtoError::new("seq", RejectReason::WrongType)
    );
}

#[test]
fn a_payload_that_is_not_an_object_is_the_wrong_type() {
    assert_eq!(
        loc_error("[1,2,3]"),
        ProtoError::new("payload", RejectReason::WrongType)
    );
}

#[test]
fn a_missing_required_field_is_rejected_by_name() {
    let payload = r#"{"seq":17,"ts":1764331200000,"lat":51.9,"lon":4.4}"#;
    assert_eq!(
        loc_error(payload),
        ProtoError::new("acc", RejectReason::MissingField)
    );
}

#[test]
fn an_unknown_alarm_kind_is_rejected() {
    let payload = br#"{"seq":1,"ts":1764331200000,"kind":"earthquake"}"#;
    let err = parse_alarm(payload, &device(), NOW).unwrap_err();
    assert_eq!(err, ProtoError::new("kind", RejectReason::UnknownKind));
}

#[test]
fn an_unknown_status_kind_is_rejected() {
    let payload = br#"{"seq":1,"ts":1764331200000,"kind":"sleepy"}"#;
    let err = parse_status(payload, &device(), NOW).unwrap_err();
    assert_eq!(err, ProtoError::new("kind", RejectReason::UnknownKind));
}

#[test]
fn latitude_outside_90_degrees_is_rejected() {
    assert_eq!(
        loc_error(&fix_with("lat", "90.0001")),
        ProtoError::new("lat", RejectReason::LatOutOfRange)
    );
    assert_eq!(
        loc_error(&fix_with("lat", "-91")).reason,
        RejectReason::LatOutOfRange
    );
}

#[test]
fn longitude_outside_180_degrees_is_rejected() {
    assert_eq!(
        loc_error(&fix_with("lon", "180.5")),
        ProtoError::new("lon", RejectReason::LonOutOfRange)
    );
}

#[test]
fn nan_is_rejected_as_non_finite() {
    assert_eq!(
        loc_error(&fix_with("lat", "NaN")),
        ProtoError::new("lat", RejectReason::NonFinite)
    );
}

#[test]
fn infinity_is_rejected_as_non_finite() {
    assert_eq!(
        loc_error(&fix_with("acc", "Infinity")),
        ProtoError::new("acc", RejectReason::NonFinite)
    );
    assert_eq!(
        loc_error(&fix_with("lon", "-Infinity")),
        ProtoError::new("lon", RejectReason::NonFinite)
    );
}

#[test]
fn a_number_beyond_f64_is_rejected_as_non_finite() {
    assert_eq!(
        loc_error(&fix_with("acc", "1e999")).reason,
        RejectReason::NonFinite
    );
}

#[test]
fn a_negative_accuracy_is_rejected() {
    assert_eq!(
        loc_error(&fix_with("acc", "-0.5")),
        ProtoError::new("acc", RejectReason::NegativeAcc)
    );
}

#[test]
fn a_payload_over_64_kib_is_rejected() {
    let padding = " ".repeat(64 * 1024);
    assert_eq!(
        loc_error(&format!("{FIX}{padding}")),
        ProtoError::new("payload", RejectReason::TooLarge)
    );
}

#[test]
fn a_timestamp_more_than_5_minutes_ahead_is_rejected() {
    let ahead = NOW.millis() + 5 * 60 * 1000 + 1;
    assert_eq!(
        loc_error(&fix_with("ts", &ahead.to_string())),
        ProtoError::new("ts", RejectReason::FutureTs)
    );
}

#[test]
fn a_timestamp_exactly_5_minutes_ahead_is_accepted() {
    let ahead = NOW.millis() + 5 * 60 * 1000;
    assert!(
        parse_loc(
            fix_with("ts", &ahead.to_string()).as_bytes(),
            &device(),
            NOW
        )
        .is_ok()
    );
}

#[test]
fn a_device_field_that_differs_from_the_topic_is_rejected() {
    assert_eq!(
        loc_error(&fix_with("device", "\"p-17\"")),
        ProtoError::new("device", RejectReason::DeviceMismatch)
    );
}

#[test]
fn a_bad_device_id_is_rejected() {
    let err = DeviceId::parse("v 17", "topic").unwrap_err();
    assert_eq!(err, ProtoError::new("topic", RejectReason::BadDeviceId));
}

#[test]
fn a_batch_over_500_fixes_is_rejected() {
    let fixes = vec![FIX; 501].join(",");
    assert_eq!(
        loc_error(&format!(r#"{{"fixes":[{fixes}]}}"#)),
        ProtoError::new("fixes", RejectReason::BatchTooLarge)
    );
}

#[test]
fn a_batch_of_exactly_500_fixes_is_accepted() {
    let fixes = vec![FIX; 500].join(",");
    let payload = format!(r#"{{"fixes":[{fixes}]}}"#);
    assert_eq!(
        parse_loc(payload.as_bytes(), &device(), NOW).unwrap().len(),
        500
    );
}

#[test]
fn a_bad_fix_inside_a_batch_names_its_position() {
    let payload = format!(r#"{{"fixes":[{FIX},{}]}}"#, fix_with("lat", "95"));
    assert_eq!(
        loc_error(&payload),
        ProtoError::new("fixes[1].lat", RejectReason::LatOutOfRange)
    );
}

#[test]
fn a_valid_alarm_is_accepted() {
    let payload = br#"{"seq":18,"ts":1764331200000,"kind":"tamper","lat":51.9,"lon":4.4,"acc":20}"#;
    let parsed = parse_alarm(payload, &device(), NOW).unwrap();
    assert_eq!(parsed.alarm.kind, AlarmKind::Tamper);
    assert_eq!(parsed.alarm.seq, Some(18));
    assert!(parsed.ignored.is_empty());
}

#[test]
fn a_panic_with_bad_fields_is_raised_with_those_fields_ignored() {
    let payload = br#"{"seq":"x","ts":1764331200000,"kind":"panic","lat":123,"lon":4.4}"#;
    let parsed = parse_alarm(payload, &device(), NOW).unwrap();
    assert_eq!(parsed.alarm.kind, AlarmKind::Panic);
    assert_eq!(parsed.alarm.seq, None);
    assert_eq!(parsed.alarm.lat, None);
    let ignored: Vec<&str> = parsed.ignored.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(ignored, ["seq", "lat"]);
}

#[test]
fn a_panic_without_ts_takes_the_receive_time() {
    let parsed = parse_alarm(br#"{"kind":"panic"}"#, &device(), NOW).unwrap();
    assert_eq!(parsed.alarm.ts, NOW);
    assert_eq!(parsed.alarm.seq, None);
}

#[test]
fn a_panic_with_a_future_ts_takes_the_receive_time() {
    let payload = br#"{"seq":3,"ts":99999999999999,"kind":"panic"}"#;
    let parsed = parse_alarm(payload, &device(), NOW).unwrap();
    assert_eq!(parsed.alarm.ts, NOW);
    assert_eq!(parsed.alarm.seq, Some(3));
}

#[test]
fn a_non_panic_alarm_with_bad_fields_is_rejected() {
    let err = parse_alarm(br#"{"kind":"fall"}"#, &device(), NOW).unwrap_err();
    assert_eq!(err, ProtoError::new("seq", RejectReason::MissingField));
}

#[test]
fn the_offline_will_message_needs_no_seq_or_ts() {
    let status = parse_status(br#"{"kind":"offline"}"#, &device(), NOW).unwrap();
    assert_eq!(status.kind, StatusKind::Offline);
    assert_eq!((status.seq, status.ts), (None, NOW));
}

#[test]
fn other_statuses_need_seq_and_ts() {
    let err = parse_status(br#"{"kind":"heartbeat","batt":50}"#, &device(), NOW).unwrap_err();
    assert_eq!(err, ProtoError::new("seq", RejectReason::MissingField));
}

#[test]
fn parse_uplink_dispatches_on_the_channel() {
    let uplink = parse_uplink(Channel::Loc, FIX.as_bytes(), &device(), NOW).unwrap();
    assert!(matches!(uplink, Uplink::Fixes(fixes) if fixes.len() == 1));
}

#[test]
fn every_reject_reason_has_a_distinct_label() {
    let mut labels: Vec<_> = RejectReason::ALL.iter().map(|r| r.label()).collect();
    labels.sort_unstable();
    labels.dedup();
    assert_eq!(labels.len(), RejectReason::ALL.len());
}
