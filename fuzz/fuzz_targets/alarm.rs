//! An `alarm` payload: a JSON object of kind `panic` is never refused, and
//! an accepted alarm re-encoded decodes to the same alarm.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vangnet_fuzz::{NOW, device};
use vangnet_proto::{Channel, Uplink, parse_uplink};

fuzz_target!(|payload: &[u8]| {
    let parsed = parse_uplink(Channel::Alarm, payload, &device(), NOW);
    let panic = matches!(
        serde_json::from_slice::<serde_json::Value>(payload),
        Ok(serde_json::Value::Object(object)) if object.get("kind").and_then(|k| k.as_str()) == Some("panic")
    );
    let Ok(Uplink::Alarm(parsed)) = parsed else {
        assert!(!panic, "a panic was refused: {parsed:?}");
        return;
    };
    let encoded = serde_json::to_vec(&parsed.alarm).unwrap_or_else(|err| panic!("{err}"));
    match parse_uplink(Channel::Alarm, &encoded, &device(), NOW) {
        Ok(Uplink::Alarm(again)) => assert_eq!(
            again.alarm, parsed.alarm,
            "an alarm re-encoded decodes as another"
        ),
        other => panic!("an accepted alarm re-encoded is refused: {other:?}"),
    }
});
