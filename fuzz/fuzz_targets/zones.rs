//! The `zones` of an order, a GeoJSON FeatureCollection or an array of zone
//! bodies: both forms write back in the form they came in and read as the
//! same zones, and zones admitted in an order are valid geometry.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vangnet_fuzz::admit;
use vangnet_proto::DeviceId;
use vangnet_proto::order::{OrderBody, Zones};
use vangnet_server::api::parse_body;

fuzz_target!(|data: &[u8]| {
    let Ok(zones) = parse_body::<Zones>(data) else {
        return;
    };
    let written = serde_json::to_vec(&zones).unwrap_or_else(|err| panic!("{err}"));
    let again: Zones = serde_json::from_slice(&written)
        .unwrap_or_else(|err| panic!("written zones do not read back: {err}"));
    assert_eq!(again, zones, "zones written back read as other zones");
    let list = Zones::List(zones.to_vec());
    let as_list: Zones =
        serde_json::from_slice(&serde_json::to_vec(&list).unwrap_or_else(|err| panic!("{err}")))
            .unwrap_or_else(|err| panic!("zones as an array do not read back: {err}"));
    assert_eq!(*as_list, *zones, "the array form reads as other zones");
    let device = |id| DeviceId::parse(id, "device").unwrap_or_else(|err| panic!("{err}"));
    admit(OrderBody {
        id: None,
        region: "fuzz".into(),
        exercise: false,
        victim_devices: vec![device("v-17")],
        perpetrator_devices: vec![device("p-17")],
        proximity: None,
        zones,
        valid_from: None,
        valid_until: None,
        warn_perpetrator: Default::default(),
    });
});
