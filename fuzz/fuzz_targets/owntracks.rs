//! An OwnTracks topic (the first line) and message (the rest): an accepted
//! location is a fix whose `seq` is `tst` and whose `ts` is `tst` in
//! milliseconds, and that the `loc` decoder takes as the same fix.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vangnet_fuzz::NOW;
use vangnet_proto::owntracks::parse_location;
use vangnet_proto::{Channel, Topics, Uplink, parse_uplink};

fuzz_target!(|data: &[u8]| {
    let (topic, payload) = match data.iter().position(|&b| b == b'\n') {
        Some(end) => (&data[..end], &data[end + 1..]),
        None => (&b"owntracks/anna/phone"[..], data),
    };
    let Ok(topic) = std::str::from_utf8(topic) else {
        return;
    };
    let Ok(device) = Topics::parse_owntracks(topic) else {
        return;
    };
    let Ok(Some(fix)) = parse_location(payload, &device, NOW) else {
        return;
    };
    assert_eq!(
        fix.ts.millis(),
        fix.seq.saturating_mul(1000),
        "ts is not tst in milliseconds"
    );
    let encoded = serde_json::to_vec(&fix).unwrap_or_else(|err| panic!("{err}"));
    let again = parse_uplink(Channel::Loc, &encoded, &device, NOW);
    assert_eq!(
        again,
        Ok(Uplink::Fixes(vec![fix])),
        "an OwnTracks fix re-encoded decodes as another"
    );
});
