//! A partition's durable state, stored as parts (the order, the order's
//! engine state, one part per device) so that a step writes only the parts
//! it changed: a location fix rewrites its device and seldom more.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use vangnet_engine::{DeviceState, Engine, OrderState};
use vangnet_proto::DeviceId;
use vangnet_proto::order::OrderBody;

use crate::store::{StateParts, StoreError};

const ORDER_PART: &str = "order";
const ORDER_STATE_PART: &str = "order_state";
const DEVICE_PART_PREFIX: &str = "device:";

/// Whether a stored part is a device's state, which holds its recent positions.
pub(crate) fn is_device_part(name: &str) -> bool {
    name.starts_with(DEVICE_PART_PREFIX)
}

/// The durable state of one partition: the order it was computed for and
/// the engine state of the order and its devices.
///
/// Each device's state is boxed: a map's node has room for eleven entries,
/// and most partitions hold two devices, so inline states would cost a
/// node of about 4 KiB each.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct PartitionState {
    pub(super) order: Option<OrderBody>,
    pub(super) order_state: Option<OrderState>,
    pub(super) devices: BTreeMap<DeviceId, Box<DeviceState>>,
}

impl PartitionState {
    /// Reads the state back from every stored part; the error says which part is corrupt.
    pub(super) fn from_parts(parts: StateParts) -> Result<Self, String> {
        let mut state = Self::default();
        for (name, bytes) in &parts {
            match name.as_str() {
                ORDER_PART => state.order = decode(name, bytes)?,
                ORDER_STATE_PART => state.order_state = decode(name, bytes)?,
                _ => {
                    let device = name
                        .strip_prefix(DEVICE_PART_PREFIX)
                        .and_then(|id| DeviceId::parse(id, "part").ok())
                        .ok_or_else(|| format!("unknown state part `{name}`"))?;
                    state.devices.insert(device, Box::new(decode(name, bytes)?));
                }
            }
        }
        Ok(state)
    }

    /// Copies the engine's state of the order and of the order's devices and
    /// `touched`, returning the parts that changed; with `order_changed` the
    /// order's body is among them.
    pub(super) fn update(
        &mut self,
        engine: &Engine,
        touched: Vec<DeviceId>,
        order_changed: bool,
    ) -> Result<StateParts, StoreError> {
        let mut parts = StateParts::new();
        if order_changed {
            parts.insert(ORDER_PART.to_owned(), encode(&self.order)?);
        }
        let order_id = self.order.as_ref().and_then(|body| body.id.as_ref());
        let order_state = order_id.and_then(|id| engine.order_state(id));
        if order_state != self.order_state.as_ref() {
            self.order_state = order_state.cloned();
            parts.insert(ORDER_STATE_PART.to_owned(), encode(&self.order_state)?);
        }
        let members = self
            .order
            .iter()
            .flat_map(|body| body.victim_devices.iter().chain(&body.perpetrator_devices))
            .cloned();
        for device in members.chain(touched) {
            let Some(current) = engine.device_state(&device) else {
                continue;
            };
            if self.devices.get(&device).map(Box::as_ref) == Some(current) {
                continue;
            }
            let mut name = String::with_capacity(DEVICE_PART_PREFIX.len() + device.as_str().len());
            name.push_str(DEVICE_PART_PREFIX);
            name.push_str(device.as_str());
            parts.insert(name, encode(current)?);
            self.devices.insert(device, Box::new(current.clone()));
        }
        Ok(parts)
    }
}

/// Room for a device part (about 550 bytes) without growing on the way.
const PART_CAPACITY: usize = 1024;

fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, StoreError> {
    let mut bytes = Vec::with_capacity(PART_CAPACITY);
    serde_json::to_writer(&mut bytes, value)
        .map_err(|e| StoreError::Corrupt(format!("encoding partition state: {e}")))?;
    Ok(bytes)
}

fn decode<T: DeserializeOwned>(part: &str, bytes: &[u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("state part `{part}`: {e}"))
}

#[cfg(test)]
pub(super) mod tests {
    use vangnet_engine::{EngineConfig, Event};
    use vangnet_proto::order::ProximityRule;
    use vangnet_proto::{Fix, Latitude, Longitude, Meters, OrderId, TimestampMs};

    use super::*;

    const T0: u64 = 1_764_331_200_000;

    fn device(id: &str) -> DeviceId {
        DeviceId::parse(id, "device").unwrap()
    }

    /// An order of one victim and one perpetrator device, with a proximity rule.
    pub(in crate::partitions) fn body() -> OrderBody {
        OrderBody {
            id: Some(OrderId::new("order-17")),
            region: "utrecht".into(),
            exercise: false,
            victim_devices: vec![device("victim-1")],
            perpetrator_devices: vec![device("perp-1")],
            proximity: Some(ProximityRule {
                alarm_m: 500.0,
                prealarm_m: 1_000.0,
            }),
            zones: Default::default(),
            valid_from: None,
            valid_until: None,
            warn_perpetrator: Default::default(),
        }
    }

    fn fix(seq: u64, lat: f64) -> Event {
        Event::Fixes(vec![Fix::new(
            seq,
            TimestampMs(T0 + seq * 1_000),
            Latitude::new(lat).unwrap(),
            Longitude::new(5.12).unwrap(),
            Meters::new(10.0).unwrap(),
        )])
    }

    /// An engine running `body` with both devices heard, its state, and the parts first written.
    fn started() -> (Engine, PartitionState, StateParts) {
        let mut engine = Engine::new(EngineConfig::default());
        engine.put_order(&body(), TimestampMs(T0)).unwrap();
        engine.handle(&device("victim-1"), fix(1, 52.09), TimestampMs(T0 + 1_000));
        engine.handle(&device("perp-1"), fix(1, 52.2), TimestampMs(T0 + 1_000));
        let mut state = PartitionState {
            order: Some(body()),
            ..PartitionState::default()
        };
        let parts = state.update(&engine, Vec::new(), true).unwrap();
        (engine, state, parts)
    }

    /// Moves the perpetrator one fix on, still far away: the parts the step changed.
    fn perpetrator_moves(engine: &mut Engine, state: &mut PartitionState) -> StateParts {
        engine.handle(&device("perp-1"), fix(2, 52.21), TimestampMs(T0 + 2_000));
        state.update(engine, vec![device("perp-1")], false).unwrap()
    }

    fn names(parts: &StateParts) -> Vec<&str> {
        parts.keys().map(String::as_str).collect()
    }

    #[test]
    fn a_first_update_writes_the_order_its_state_and_every_device() {
        let (_, _, parts) = started();
        assert_eq!(
            names(&parts),
            ["device:perp-1", "device:victim-1", "order", "order_state"]
        );
    }

    #[test]
    fn a_fix_writes_only_its_device() {
        let (mut engine, mut state, _) = started();
        let parts = perpetrator_moves(&mut engine, &mut state);
        assert_eq!(names(&parts), ["device:perp-1"]);
    }

    #[test]
    fn an_unchanged_state_writes_no_part() {
        let (engine, mut state, _) = started();
        let parts = state
            .update(&engine, vec![device("perp-1")], false)
            .unwrap();
        assert!(parts.is_empty());
    }

    #[test]
    fn the_parts_written_read_back_as_the_same_state() {
        let (mut engine, mut state, mut stored) = started();
        stored.extend(perpetrator_moves(&mut engine, &mut state));
        assert_eq!(PartitionState::from_parts(stored).unwrap(), state);
    }

    #[test]
    fn an_unknown_part_is_reported_by_name() {
        let mut stored = StateParts::new();
        stored.insert("zones".to_owned(), b"{}".to_vec());
        let err = PartitionState::from_parts(stored).unwrap_err();
        assert!(err.contains("`zones`"), "{err}");
    }
}
