//! A `status` payload: an accepted status re-encoded decodes to the same status.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vangnet_fuzz::{NOW, device};
use vangnet_proto::{Channel, Uplink, parse_uplink};

fuzz_target!(|payload: &[u8]| {
    let Ok(status) = parse_uplink(Channel::Status, payload, &device(), NOW) else {
        return;
    };
    let Uplink::Status(decoded) = &status else {
        panic!("a status payload decoded as {status:?}");
    };
    let encoded = serde_json::to_vec(decoded).unwrap_or_else(|err| panic!("{err}"));
    let again = parse_uplink(Channel::Status, &encoded, &device(), NOW);
    assert_eq!(again, Ok(status), "a status re-encoded decodes as another");
});
