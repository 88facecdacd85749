//! A `loc` payload holding a batch: an accepted batch has 1 to 500 fixes,
//! and re-encoded as a batch decodes to the same fixes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vangnet_fuzz::{NOW, device};
use vangnet_proto::{Channel, FixBatch, MAX_BATCH_FIXES, Uplink, parse_uplink};

fuzz_target!(|payload: &[u8]| {
    let Ok(Uplink::Fixes(fixes)) = parse_uplink(Channel::Loc, payload, &device(), NOW) else {
        return;
    };
    assert!(
        fixes.len() <= MAX_BATCH_FIXES,
        "{} fixes accepted",
        fixes.len()
    );
    let batch = FixBatch { fixes };
    let encoded = serde_json::to_vec(&batch).unwrap_or_else(|err| panic!("{err}"));
    let again = parse_uplink(Channel::Loc, &encoded, &device(), NOW);
    assert_eq!(
        again,
        Ok(Uplink::Fixes(batch.fixes)),
        "a batch re-encoded decodes as another"
    );
});
