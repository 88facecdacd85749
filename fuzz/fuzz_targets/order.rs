//! An order body as `POST /api/v1/orders` reads it: an admitted order
//! stores, reads back and loads, and its zones are valid geometry.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vangnet_fuzz::admit;
use vangnet_proto::order::OrderBody;
use vangnet_server::api::parse_body;

fuzz_target!(|body: &[u8]| {
    if let Ok(order) = parse_body::<OrderBody>(body) {
        admit(order);
    }
});
