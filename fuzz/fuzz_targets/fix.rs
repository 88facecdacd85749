//! A `loc` payload holding one fix: whatever decodes re-encodes to the same fix.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vangnet_fuzz::{NOW, device};
use vangnet_proto::{Channel, Uplink, parse_uplink};

fuzz_target!(|payload: &[u8]| {
    let Ok(Uplink::Fixes(fixes)) = parse_uplink(Channel::Loc, payload, &device(), NOW) else {
        return;
    };
    for fix in fixes {
        let encoded = serde_json::to_vec(&fix).unwrap_or_else(|err| panic!("{err}"));
        let again = parse_uplink(Channel::Loc, &encoded, &device(), NOW);
        assert_eq!(
            again,
            Ok(Uplink::Fixes(vec![fix])),
            "a fix re-encoded decodes as another"
        );
    }
});
