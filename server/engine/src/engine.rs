//! The in-memory facade: every order, device and alert in one value, with one
//! method per thing that can happen. Each method is a pure step: given the
//! same state, event and `now`, it makes the same changes and effects.

mod resolved;

use self::resolved::RecentlyResolved;

use smallvec::SmallVec;

use vangnet_proto::order::OrderBody;
use vangnet_proto::{
    Ack, Alarm, AlarmKind, AlertId, AlertKind, DeviceId, DispatchBody, Fix, IncidentId, Latitude,
    Longitude, Meters, OrderId, Party, Status, TimestampMs, Uplink, WarningLevel,
};

use crate::alert::{Act, Alert, AlertError, Owner, Press, Slot, Trigger};
use crate::config::EngineConfig;
use crate::dedup::MessageKey;
use crate::detect::{Step, party};
use crate::effect::{Effect, StateKey};
use crate::ids::AlertIds;
use crate::order::{Order, OrderError, Role};
use crate::slab::Slab;
use crate::state::{Battery, DeviceState, OrderState};
use crate::track::{Position, Verdict};
use crate::view::OrderView;
use crate::warning;

/// Something a device sent, already validated by `vangnet-proto`.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// One fix or a batch (evaluated in `ts` order).
    Fixes(Vec<Fix>),
    /// An alarm.
    Alarm(Alarm),
    /// A status event.
    Status(Status),
}

impl From<Uplink> for Event {
    fn from(uplink: Uplink) -> Self {
        match uplink {
            Uplink::Fixes(fixes) => Self::Fixes(fixes),
            Uplink::Alarm(parsed) => Self::Alarm(parsed.alarm),
            Uplink::Status(status) => Self::Status(status),
        }
    }
}

/// `end_order` of an order the engine does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no such order")]
pub struct UnknownOrder;

/// An order with its state.
#[derive(Debug, Clone)]
struct Entry {
    order: Order,
    state: OrderState,
    keys: Keys,
}

/// The device slots of an order, by side and index, so that finding the
/// other party's position needs no hashing.
#[derive(Debug, Clone, Default)]
struct Keys {
    victims: SmallVec<[u32; 2]>,
    perpetrators: SmallVec<[u32; 2]>,
}

impl Keys {
    fn side(&self, role: Role) -> &[u32] {
        match role {
            Role::Victim => &self.victims,
            Role::Perpetrator => &self.perpetrators,
        }
    }

    fn push(&mut self, role: Role, slot: u32) {
        match role {
            Role::Victim => self.victims.push(slot),
            Role::Perpetrator => self.perpetrators.push(slot),
        }
    }

    fn get(&self, role: Role, index: usize) -> Option<u32> {
        self.side(role).get(index).copied()
    }

    fn all(&self) -> impl Iterator<Item = u32> + '_ {
        self.victims.iter().chain(&self.perpetrators).copied()
    }
}

/// A device's state and the orders it belongs to.
#[derive(Debug, Clone, Default)]
struct Device {
    state: DeviceState,
    /// Usually one order: kept inline.
    orders: SmallVec<[Membership; 1]>,
}

/// A device's place in one order: the order's slot, its side and its index there.
#[derive(Debug, Clone, Copy)]
struct Membership {
    order: u32,
    index: u32,
    role: Role,
}

/// The detection engine with all its state in memory.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    config: EngineConfig,
    ids: AlertIds,
    orders: Slab<Entry>,
    devices: Slab<Device>,
    resolved: RecentlyResolved,
}

impl Engine {
    /// An engine with no orders, whose alert ids are random.
    pub fn new(config: EngineConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// The engine with its alert ids taken from `ids` (a seeded source makes
    /// a replay give the same ids).
    pub fn with_ids(self, ids: AlertIds) -> Self {
        Self { ids, ..self }
    }

    /// Creates or replaces an order from its body, checked as a stored one
    /// ([`Order::load`]; the API checks a new body with [`Order::validate`]
    /// first). A replacement keeps the order's open alerts and the levels of
    /// the zones and devices it keeps.
    pub fn put_order(
        &mut self,
        body: &OrderBody,
        now: TimestampMs,
    ) -> Result<Vec<Effect>, OrderError> {
        let order = Order::load(body)?;
        let mut state = OrderState::new(&order, now);
        if let Some(slot) = self.orders.slot(order.id.as_str())
            && let Some(old) = self.orders.at_mut(slot)
        {
            let previous = std::mem::replace(&mut old.state, OrderState::new(&order, now));
            state = previous.carried_over(&old.order, &order);
            let leaving: Vec<u32> = old.keys.all().collect();
            for device in leaving {
                if let Some(device) = self.devices.at_mut(device) {
                    device.orders.retain(|m| m.order != slot);
                }
            }
        }
        let mut effects = vec![Effect::Persist(StateKey::Order(order.id.clone()))];
        let mut keys = Keys::default();
        for (device, role) in order.devices() {
            if self.devices.slot(device.as_str()).is_none() {
                effects.push(Effect::Persist(StateKey::Device(device.clone())));
            }
            let slot = self
                .devices
                .slot_or_insert_with(device.as_str(), Device::default);
            keys.push(role, slot);
        }
        let id = order.id.clone();
        let joining = keys.clone();
        let slot = self.orders.put(id.as_str(), Entry { order, state, keys });
        for role in [Role::Victim, Role::Perpetrator] {
            for (index, device) in joining.side(role).iter().enumerate() {
                if let Some(device) = self.devices.at_mut(*device) {
                    device.orders.push(Membership {
                        order: slot,
                        index: index as u32,
                        role,
                    });
                }
            }
        }
        Ok(effects)
    }

    /// Ends an order: it evaluates nothing more, and its open alerts stay
    /// open until a person resolves them.
    pub fn end_order(
        &mut self,
        id: &OrderId,
        now: TimestampMs,
    ) -> Result<Vec<Effect>, UnknownOrder> {
        let entry = self.orders.get_mut(id.as_str()).ok_or(UnknownOrder)?;
        entry.state.ended.get_or_insert(now);
        Ok(vec![Effect::Persist(StateKey::Order(id.clone()))])
    }

    /// Whether `device` belongs to any order (the service rejects other
    /// devices' messages, except a panic).
    pub fn knows(&self, device: &DeviceId) -> bool {
        self.devices
            .get(device.as_str())
            .is_some_and(|d| !d.orders.is_empty())
    }

    /// Handles one validated message of `device`, received at `now`.
    pub fn handle(&mut self, device: &DeviceId, event: Event, now: TimestampMs) -> Vec<Effect> {
        let mut effects = Vec::new();
        match event {
            Event::Fixes(fixes) => {
                if let Some(slot) = self.devices.slot(device.as_str()) {
                    self.fixes(device, slot, fixes, now, &mut effects);
                }
            }
            Event::Alarm(alarm) => self.alarm(device, &alarm, now, &mut effects),
            Event::Status(status) => self.status(device, &status, now, &mut effects),
        }
        effects
    }

    fn fixes(
        &mut self,
        device: &DeviceId,
        slot: u32,
        mut fixes: Vec<Fix>,
        now: TimestampMs,
        effects: &mut Vec<Effect>,
    ) {
        fixes.sort_by_key(|f| (f.ts, f.seq));
        let mut heard = false;
        let mut evaluated = false;
        for fix in fixes {
            let Some(state) = self
                .devices
                .at_mut(slot)
                .filter(|d| !d.orders.is_empty())
                .map(|d| &mut d.state)
            else {
                return;
            };
            if !state.dedup.first_sight(MessageKey {
                seq: fix.seq,
                ts: fix.ts,
            }) {
                continue;
            }
            heard = true;
            state.last_heard = Some(now);
            let verdict = state
                .track
                .accept(Position::received(&fix, now), &self.config);
            let battery_changed = verdict != Verdict::Older
                && fix.batt.is_some_and(|pct| {
                    update_battery(state, pct.get(), fix.ts.min(now), &self.config)
                });
            let latest = state.track.latest();
            effects.push(Effect::History {
                device: device.clone(),
                fix,
            });
            if verdict == Verdict::Older {
                continue;
            }
            let starts = verdict.segment_starts();
            let Some(latest) = latest else {
                continue;
            };
            evaluated = true;
            self.each_order(
                slot,
                latest.position.time(),
                now,
                battery_changed,
                effects,
                |step, role, index, positions| match role {
                    Role::Perpetrator => step.perpetrator_fix(index, latest, &starts, positions),
                    Role::Victim => step.victim_fix(index, latest, positions),
                },
            );
        }
        if evaluated {
            effects.push(Effect::Persist(StateKey::Device(device.clone())));
        } else if heard {
            self.heard_from(device, slot, false, now, effects);
        }
    }

    fn status(
        &mut self,
        device: &DeviceId,
        status: &Status,
        now: TimestampMs,
        effects: &mut Vec<Effect>,
    ) {
        let config = &self.config;
        let Some(slot) = self.devices.slot(device.as_str()) else {
            return;
        };
        let Some(state) = self
            .devices
            .at_mut(slot)
            .filter(|d| !d.orders.is_empty())
            .map(|d| &mut d.state)
        else {
            return;
        };
        let fresh = status
            .seq
            .is_none_or(|seq| state.dedup.first_sight(MessageKey { seq, ts: status.ts }));
        if !fresh {
            return;
        }
        state.last_heard = Some(now);
        let at = status.ts.min(now);
        let newer = state.battery.is_none_or(|b| b.ts <= at);
        let battery_changed = match status.batt {
            Some(pct) if newer => update_battery(state, pct.get(), at, config),
            _ => false,
        };
        self.heard_from(device, slot, battery_changed, now, effects);
    }

    /// After a message of `device`: clears its silence, re-checks batteries,
    /// and asks for its state to be saved.
    fn heard_from(
        &mut self,
        device: &DeviceId,
        slot: u32,
        battery_changed: bool,
        now: TimestampMs,
        effects: &mut Vec<Effect>,
    ) {
        self.each_order(slot, now, now, battery_changed, effects, |_, _, _, _| {});
        effects.push(Effect::Persist(StateKey::Device(device.clone())));
    }

    /// Runs `act` on every order of the device in `slot` in force at `at`,
    /// with the device's side and index in it, then re-checks silence and
    /// batteries where an alert about them is open (or `battery_changed`),
    /// and files the step's changes.
    fn each_order(
        &mut self,
        slot: u32,
        at: TimestampMs,
        now: TimestampMs,
        battery_changed: bool,
        effects: &mut Vec<Effect>,
        mut act: impl FnMut(&mut Step<'_>, Role, usize, &crate::detect::Positions<'_>),
    ) {
        let Self {
            config,
            ids,
            orders,
            devices,
            resolved,
        } = self;
        let Some(member_of) = devices.at(slot).map(|d| &d.orders) else {
            return;
        };
        let state = |d: &DeviceId| devices.get(d.as_str()).map(|d| &d.state);
        let heard = |d: &DeviceId| state(d).and_then(|s| s.last_heard);
        let low = |d: &DeviceId| state(d).and_then(|s| s.battery).is_some_and(|b| b.low);
        for &Membership { order, role, index } in member_of {
            let Some(entry) = orders.at_mut(order) else {
                continue;
            };
            if entry.state.ended.is_some() || !entry.order.is_valid_at(at) {
                continue;
            }
            let keys = &entry.keys;
            let positions = |role, index| {
                let device = devices.at(keys.get(role, index)?)?;
                device.state.track.latest()
            };
            let mut closed = Vec::new();
            let mut step = Step {
                order: &entry.order,
                state: &mut entry.state,
                config,
                ids,
                now,
                effects,
                closed: &mut closed,
                changed: false,
            };
            act(&mut step, role, index as usize, &positions);
            if step.has_open(AlertKind::SignalLost) {
                step.silence(&heard);
            }
            if battery_changed || step.has_open(AlertKind::BatteryLow) {
                step.battery(&low);
            }
            if let Some(persist) = step.persist() {
                effects.push(persist);
            }
            if !closed.is_empty() {
                resolved.extend(closed);
            }
        }
    }

    fn alarm(
        &mut self,
        device: &DeviceId,
        alarm: &Alarm,
        now: TimestampMs,
        effects: &mut Vec<Effect>,
    ) {
        let key = alarm.seq.map(|seq| MessageKey { seq, ts: alarm.ts });
        let slot = self
            .devices
            .slot_or_insert_with(device.as_str(), Device::default);
        let Some(entry) = self.devices.at_mut(slot) else {
            return;
        };
        let state = &mut entry.state;
        if let Some(ids) = key.and_then(|key| state.dedup.seen_alarm(key)) {
            effects.push(ack(device, alarm, ids.to_vec(), now));
            return;
        }
        if let Some(key) = key {
            state.dedup.first_sight(key);
        }
        state.last_heard = Some(now);
        let position = alarm_position(device, alarm, state);
        let late = now.millis().saturating_sub(alarm.ts.millis()) > self.config.late_after_s * 1000;
        let mut ids = Vec::new();
        let in_force = |order: &Order| order.is_valid_at(now) || order.is_valid_at(alarm.ts);
        let member_of = entry.orders.clone();
        for Membership { order, role, .. } in member_of {
            let Some(entry) = self.orders.at(order) else {
                continue;
            };
            if entry.state.ended.is_some() || !in_force(&entry.order) {
                continue;
            }
            let (kind, time) = (alarm.kind, alarm.ts.min(now));
            let position = position.clone();
            self.each_order_one(order, now, effects, |step, positions| {
                ids.extend(step.alarm(kind, role, position, late, time, positions));
            });
        }
        if ids.is_empty() && alarm.kind == AlarmKind::Panic {
            let panic = (position, late, alarm.ts.min(now));
            ids.extend(self.unassigned_panic(slot, panic, now, effects));
        }
        if let Some(key) = key
            && let Some(entry) = self.devices.at_mut(slot)
        {
            entry.state.dedup.remember_alarm(key, ids.clone());
        }
        self.heard_from(device, slot, false, now, effects);
        effects.push(ack(device, alarm, ids, now));
    }

    /// Runs `act` on one order, filing its changes.
    fn each_order_one(
        &mut self,
        slot: u32,
        now: TimestampMs,
        effects: &mut Vec<Effect>,
        act: impl FnOnce(&mut Step<'_>, &crate::detect::Positions<'_>),
    ) {
        let Some(entry) = self.orders.at_mut(slot) else {
            return;
        };
        let devices = &self.devices;
        let keys = &entry.keys;
        let positions = |role, index| {
            let device = devices.at(keys.get(role, index)?)?;
            device.state.track.latest()
        };
        let mut closed = Vec::new();
        let mut step = Step {
            order: &entry.order,
            state: &mut entry.state,
            config: &self.config,
            ids: &mut self.ids,
            now,
            effects,
            closed: &mut closed,
            changed: false,
        };
        act(&mut step, &positions);
        if let Some(persist) = step.persist() {
            effects.push(persist);
        }
        self.resolved.extend(closed);
    }

    /// A panic from a device in no order in force: `panic_unassigned`.
    fn unassigned_panic(
        &mut self,
        slot: u32,
        (position, late, time): (Option<Party>, bool, TimestampMs),
        now: TimestampMs,
        effects: &mut Vec<Effect>,
    ) -> Option<AlertId> {
        let state = &mut self.devices.at_mut(slot)?.state;
        let trigger = Trigger {
            priority: vangnet_proto::Priority::P2,
            confidence: None,
            victim: position,
            perpetrator: None,
            distance_m: None,
            press: Some(Press { late }),
            time,
        };
        match state.unassigned_panic.as_mut() {
            Some(alert) => {
                if let Some(body) = alert.trigger(trigger, self.config.position_revision_s, now) {
                    effects.push(Effect::Dispatch(Box::new(body)));
                }
                Some(alert.id().clone())
            }
            None => {
                let kind = AlertKind::PanicUnassigned;
                let id = self.ids.next();
                let owner = Owner {
                    order_id: None,
                    region: None,
                    exercise: false,
                };
                let incident = IncidentId::new(id.as_str());
                let slot = Slot::of(kind);
                let alert = Alert::open(id.clone(), incident, slot, owner, trigger, now);
                effects.push(Effect::Dispatch(Box::new(alert.current().clone())));
                state.unassigned_panic = Some(Box::new(alert));
                Some(id)
            }
        }
    }

    /// Advances the server clock to `now`: raises `signal_lost` for devices
    /// silent too long. Call it every few seconds.
    pub fn tick(&mut self, now: TimestampMs) -> Vec<Effect> {
        let mut effects = Vec::new();
        let Self {
            config,
            ids,
            orders,
            devices,
            resolved,
        } = self;
        let heard = |d: &DeviceId| devices.get(d.as_str()).and_then(|d| d.state.last_heard);
        for entry in orders.iter_mut() {
            if entry.state.ended.is_some() || !entry.order.is_valid_at(now) {
                continue;
            }
            let mut closed = Vec::new();
            let mut step = Step {
                order: &entry.order,
                state: &mut entry.state,
                config,
                ids,
                now,
                effects: &mut effects,
                closed: &mut closed,
                changed: false,
            };
            step.silence(&heard);
            if let Some(persist) = step.persist() {
                effects.push(persist);
            }
            if !closed.is_empty() {
                resolved.extend(closed);
            }
        }
        effects
    }

    /// A dispatcher takes an alert (`open` → `acknowledged`).
    pub fn acknowledge(
        &mut self,
        id: &AlertId,
        act: Act,
        now: TimestampMs,
    ) -> Result<Vec<Effect>, AlertError> {
        self.person_acts(id, now, |alert| alert.acknowledge(act, now))
    }

    /// A dispatcher closes an alert with a note; warned devices are told `clear`.
    pub fn resolve(
        &mut self,
        id: &AlertId,
        act: Act,
        now: TimestampMs,
    ) -> Result<Vec<Effect>, AlertError> {
        self.person_acts(id, now, |alert| alert.resolve(act, now))
    }

    fn person_acts(
        &mut self,
        id: &AlertId,
        now: TimestampMs,
        act: impl FnOnce(&mut Alert) -> Result<DispatchBody, AlertError>,
    ) -> Result<Vec<Effect>, AlertError> {
        if let Some(alert) = self.resolved.get(id) {
            let from = alert.current().status;
            // Any act on a resolved alert is refused; let it say which.
            let mut copy = alert.clone();
            return Err(act(&mut copy)
                .err()
                .unwrap_or(AlertError::InvalidTransition { from, to: from }));
        }
        for entry in self.orders.iter_mut() {
            let Some(index) = entry.state.alerts.iter().position(|a| a.id() == id) else {
                continue;
            };
            let alert = &mut entry.state.alerts[index];
            let body = act(alert)?;
            let mut effects = vec![Effect::Dispatch(Box::new(body))];
            if alert.is_resolved() {
                let alert = entry.state.remove_resolved(index);
                effects.extend(clear_warnings(&entry.order, &alert, now));
                self.resolved.extend([alert]);
            }
            effects.push(Effect::Persist(StateKey::Order(entry.order.id.clone())));
            return Ok(effects);
        }
        for (device, entry) in self.devices.ids_mut() {
            let state = &mut entry.state;
            let Some(alert) = state.unassigned_panic.as_mut().filter(|a| a.id() == id) else {
                continue;
            };
            let body = act(alert)?;
            if alert.is_resolved()
                && let Some(alert) = state.unassigned_panic.take()
            {
                self.resolved.extend([*alert]);
            }
            let mut effects = vec![Effect::Dispatch(Box::new(body))];
            // Keys are made from device ids, so this always parses.
            if let Ok(device) = DeviceId::parse(device, "device") {
                effects.push(Effect::Persist(StateKey::Device(device)));
            }
            return Ok(effects);
        }
        Err(AlertError::NotFound)
    }

    /// One alert, open or resolved, with its timeline.
    pub fn alert(&self, id: &AlertId) -> Option<&Alert> {
        self.open_alerts()
            .find(|a| a.id() == id)
            .or_else(|| self.resolved.get(id))
    }

    /// Every alert that is not resolved.
    pub fn open_alerts(&self) -> impl Iterator<Item = &Alert> {
        let of_orders = self.orders.iter().flat_map(|e| e.state.alerts.iter());
        of_orders.chain(
            self.devices
                .iter()
                .filter_map(|d| d.state.unassigned_panic.as_deref()),
        )
    }

    /// Every alert the engine holds: those open and the recently resolved.
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.open_alerts().chain(self.resolved.values())
    }

    /// A validated order.
    pub fn order(&self, id: &OrderId) -> Option<&Order> {
        self.orders.get(id.as_str()).map(|e| &e.order)
    }

    /// An order's state, to be saved by the service.
    pub fn order_state(&self, id: &OrderId) -> Option<&OrderState> {
        self.orders.get(id.as_str()).map(|e| &e.state)
    }

    /// A device's state, to be saved by the service.
    pub fn device_state(&self, id: &DeviceId) -> Option<&DeviceState> {
        self.devices.get(id.as_str()).map(|d| &d.state)
    }

    /// Puts back an order's saved state (after `put_order` of its body).
    pub fn restore_order_state(
        &mut self,
        id: &OrderId,
        state: OrderState,
    ) -> Result<(), UnknownOrder> {
        let entry = self.orders.get_mut(id.as_str()).ok_or(UnknownOrder)?;
        entry.state = state.fitted(&entry.order);
        Ok(())
    }

    /// Puts back a device's saved state.
    pub fn restore_device_state(&mut self, id: DeviceId, state: DeviceState) {
        let slot = self
            .devices
            .slot_or_insert_with(id.as_str(), Device::default);
        if let Some(device) = self.devices.at_mut(slot) {
            device.state = state;
        }
    }

    /// What the order's state page shows (docs/api.md#order-state).
    pub fn order_view(&self, id: &OrderId) -> Option<OrderView> {
        let entry = self.orders.get(id.as_str())?;
        let state_of = |d: &DeviceId| self.device_state(d);
        Some(OrderView::of(
            &entry.order,
            &entry.state,
            &state_of,
            &self.config,
        ))
    }
}

fn update_battery(
    state: &mut DeviceState,
    pct: f64,
    ts: TimestampMs,
    config: &EngineConfig,
) -> bool {
    let was_low = state.battery.is_some_and(|b| b.low);
    let low = pct <= config.battery_low_pct
        || (was_low && pct <= config.battery_low_pct + config.battery_clear_margin_pct);
    state.battery = Some(Battery { pct, ts, low });
    low != was_low
}

fn ack(device: &DeviceId, alarm: &Alarm, alert_ids: Vec<AlertId>, now: TimestampMs) -> Effect {
    Effect::Ack {
        device: device.clone(),
        ack: Ack {
            seq: alarm.seq,
            alert_ids,
            ts: now,
        },
    }
}

/// Where the alarm was raised: its own position, else the device's latest fix.
fn alarm_position(device: &DeviceId, alarm: &Alarm, state: &DeviceState) -> Option<Party> {
    match (alarm.lat, alarm.lon) {
        (Some(lat), Some(lon)) => Some(Party {
            device: device.clone(),
            lat: Latitude::new(lat.get())?,
            lon: Longitude::new(lon.get())?,
            acc: alarm.acc.unwrap_or(Meters::new(0.0)?),
            ts: alarm.ts,
        }),
        _ => state
            .track
            .latest()
            .and_then(|l| party(device, &l.position)),
    }
}

/// The `clear` warnings owed to devices warned about `alert`.
fn clear_warnings(order: &Order, alert: &Alert, now: TimestampMs) -> Vec<Effect> {
    let targets = match warning::recipients(order, alert.slot.kind) {
        Some((_, targets)) if alert.warned => targets,
        _ => return Vec::new(),
    };
    targets
        .iter()
        .map(|d| Effect::warning(d.clone(), WarningLevel::Clear, alert.id().clone(), now))
        .collect()
}
