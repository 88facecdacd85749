//! One order's rules applied to one event: zone and proximity levels from
//! fixes, and the alerts and warnings they open, update and clear
//! (docs/detection.md). A [`Step`] borrows one order and its state and
//! reads other devices' positions through a lookup, so the service can run
//! it on states loaded from a store.

use vangnet_proto::{
    AlarmKind, AlertId, AlertKind, DeviceId, IncidentId, Latitude, Longitude, Meters, Party,
    Priority, TimestampMs, WarningLevel,
};

use crate::alert::{Alert, Owner, Press, Slot, Trigger};
use crate::classify::{Level, hysteresis};
use crate::config::EngineConfig;
use crate::effect::{Effect, StateKey};
use crate::geometry::distance_m;
use crate::ids::AlertIds;
use crate::order::{Order, Role};
use crate::state::{OrderState, PairState};
use crate::track::{Latest, Position};
use crate::warning;

/// A pair's closing speed is measured over at least this many seconds.
const MIN_APPROACH_INTERVAL_MS: u64 = 20_000;

/// Looks up the latest position of the order's device on a side, by index.
pub(crate) type Positions<'p> = dyn Fn(Role, usize) -> Option<Latest> + 'p;

/// The party of `device` at `position`, for a dispatch body.
pub(crate) fn party(device: &DeviceId, position: &Position) -> Option<Party> {
    Some(Party {
        device: device.clone(),
        lat: Latitude::new(position.at.lat)?,
        lon: Longitude::new(position.at.lon)?,
        acc: Meters::new(position.acc)?,
        ts: position.ts,
    })
}

/// One order, its state, and where the step's effects go.
pub(crate) struct Step<'a> {
    pub order: &'a Order,
    pub state: &'a mut OrderState,
    pub config: &'a EngineConfig,
    pub ids: &'a mut AlertIds,
    pub now: TimestampMs,
    pub effects: &'a mut Vec<Effect>,
    /// Alerts resolved during the step, leaving the order's state.
    pub closed: &'a mut Vec<Alert>,
    /// Whether the order's state changed.
    pub changed: bool,
}

impl Step<'_> {
    /// A new fix of the order's perpetrator device number `pi`; `starts`
    /// are the fixes its segments for the zone-crossing rule start from.
    pub fn perpetrator_fix(
        &mut self,
        pi: usize,
        fix: Latest,
        starts: &[Option<Position>],
        positions: &Positions<'_>,
    ) {
        for zi in 0..self.order.zones.len() {
            self.zone(zi, pi, fix, starts, positions);
        }
        for vi in 0..self.order.victims.len() {
            if let Some(victim) = positions(Role::Victim, vi) {
                self.pair(vi, pi, victim, fix);
            }
        }
    }

    /// A new fix of the order's victim device number `vi`.
    pub fn victim_fix(&mut self, vi: usize, fix: Latest, positions: &Positions<'_>) {
        for pi in 0..self.order.perpetrators.len() {
            if let Some(perpetrator) = positions(Role::Perpetrator, pi) {
                self.pair(vi, pi, fix, perpetrator);
            }
        }
    }

    fn zone(
        &mut self,
        zi: usize,
        pi: usize,
        fix: Latest,
        starts: &[Option<Position>],
        positions: &Positions<'_>,
    ) {
        let order = self.order;
        let zone = &order.zones[zi];
        let perps = order.perpetrators.len();
        let index = zi * perps + pi;
        let Some(&before) = self.state.zone_levels.get(index) else {
            return;
        };
        let p = fix.position;
        let u = p.acc;
        let distance = zone
            .shape
            .signed_distance_within(p.at, zone.thresholds.clear_beyond() + u);
        let mut level = distance.map_or(Level::Clear, |d| zone.thresholds.classify(d, u, before));
        if fix.suspect {
            level = level.min(Level::PossibleAlarm).max(before);
        }
        let crossed = || {
            starts.iter().flatten().any(|prev| {
                p.time().abs_diff(prev.time()) <= self.config.crossing_max_gap_s * 1000
                    && zone.shape.crossed_by(prev.at, p.at)
            })
        };
        if level < Level::PossibleAlarm && crossed() {
            level = Level::PossibleAlarm;
        }
        if level == Level::Clear && before == Level::Clear {
            return;
        }
        if level != before {
            self.state.zone_levels[index] = level;
            self.changed = true;
        }
        let aggregate = self.state.zone_levels[zi * perps..(zi + 1) * perps]
            .iter()
            .copied()
            .max()
            .unwrap_or_default();
        let victim =
            order.victims.iter().enumerate().find_map(|(vi, v)| {
                positions(Role::Victim, vi).and_then(|l| party(v, &l.position))
            });
        let base = Trigger {
            priority: Priority::P2,
            confidence: None,
            victim,
            perpetrator: party(&order.perpetrators[pi], &p),
            distance_m: distance,
            press: None,
            time: p.time(),
        };
        let slot = |kind| Slot {
            kind,
            zone: Some(zone.id.clone()),
        };
        let alarm = alarm_trigger(level, &base);
        self.sync_shared(
            slot(AlertKind::ZoneAlarm),
            aggregate >= Level::PossibleAlarm,
            alarm,
        );
        let prealarm = (level >= Level::Prealarm).then_some(base);
        self.sync_shared(
            slot(AlertKind::ZonePrealarm),
            aggregate >= Level::Prealarm,
            prealarm,
        );
    }

    fn pair(&mut self, vi: usize, pi: usize, victim: Latest, perpetrator: Latest) {
        let Some(rule) = self.order.proximity else {
            return;
        };
        let perps = self.order.perpetrators.len();
        let index = vi * perps + pi;
        let Some(&before) = self.state.pairs.get(index) else {
            return;
        };
        let (v, p) = (victim.position, perpetrator.position);
        let gap_ms = p.time().abs_diff(v.time());
        if gap_ms > self.config.stale_after_s * 1000 {
            return;
        }
        let d = distance_m(p.at, v.at);
        let u = p.acc + v.acc + self.config.drift_mps * gap_ms as f64 / 1000.0;
        let mut pair = before;
        pair.level = rule.classify(d, u, before.level);
        let suspect = victim.suspect || perpetrator.suspect;
        if suspect {
            pair.level = pair.level.min(Level::PossibleAlarm).max(before.level);
        } else {
            let t = p.time().max(v.time());
            self.approach(&mut pair, rule.alarm_m, t, d, u, p.acc + v.acc);
        }
        if pair != before {
            self.state.pairs[index] = pair;
            self.changed = true;
        }
        let quiet = |s: &PairState| s.level == Level::Clear && s.approach_from.is_none();
        if quiet(&pair) && quiet(&before) {
            return;
        }
        let pairs = &self.state.pairs;
        let aggregate = pairs.iter().map(|s| s.level).max().unwrap_or_default();
        let approach = pairs.iter().any(|s| s.approach_from.is_some());
        let base = Trigger {
            priority: Priority::P2,
            confidence: None,
            victim: party(&self.order.victims[vi], &v),
            perpetrator: party(&self.order.perpetrators[pi], &p),
            distance_m: Some(d),
            press: None,
            time: p.time().max(v.time()),
        };
        let alarm = alarm_trigger(pair.level, &base);
        let any_alarm = aggregate >= Level::PossibleAlarm;
        self.sync_shared(Slot::of(AlertKind::ProximityAlarm), any_alarm, alarm);
        let prealarm = (pair.level >= Level::Prealarm).then(|| base.clone());
        let any_prealarm = aggregate >= Level::Prealarm;
        self.sync_shared(
            Slot::of(AlertKind::ProximityPrealarm),
            any_prealarm,
            prealarm,
        );
        let approaching = pair.approach_from.is_some().then_some(base);
        self.sync_shared(
            Slot::of(AlertKind::ProximityApproach),
            approach,
            approaching,
        );
    }

    /// The approach rule: closing in fast enough to reach `alarm_m` within
    /// the horizon. The closing must exceed both fixes' accuracy (`jitter`)
    /// so that noise cannot fake it; it lasts until the pair is farther apart
    /// than where it started, by the hysteresis.
    fn approach(
        &self,
        pair: &mut PairState,
        alarm_m: f64,
        t: TimestampMs,
        d: f64,
        u: f64,
        jitter: f64,
    ) {
        match pair.reference {
            Some((t0, d0))
                if t > t0 && t.millis() - t0.millis() <= self.config.stale_after_s * 1000 =>
            {
                let dt_ms = t.millis() - t0.millis();
                if dt_ms >= MIN_APPROACH_INTERVAL_MS {
                    let closing = d0 - d;
                    let speed = closing / (dt_ms as f64 / 1000.0);
                    let horizon = self.config.approach_horizon_s as f64;
                    if closing > jitter && d > alarm_m && (d - alarm_m) / speed <= horizon {
                        pair.approach_from.get_or_insert(d);
                    }
                    pair.reference = Some((t, d));
                }
            }
            Some((t0, _)) if t <= t0 => {}
            _ => pair.reference = Some((t, d)),
        }
        if pair
            .approach_from
            .is_some_and(|from| d - u > from + hysteresis(alarm_m))
        {
            pair.approach_from = None;
        }
    }

    /// An alarm pressed on `device`, on `role`'s side of the order, at
    /// `position`; returns the alert it opened or updated.
    pub fn alarm(
        &mut self,
        kind: AlarmKind,
        role: Role,
        position: Option<Party>,
        late: bool,
        time: TimestampMs,
        positions: &Positions<'_>,
    ) -> Option<AlertId> {
        let (kind, priority) = match kind {
            AlarmKind::Panic => (AlertKind::Panic, Priority::P1),
            AlarmKind::Tamper => (AlertKind::Tamper, Priority::P2),
            AlarmKind::StrapOpen => (AlertKind::StrapOpen, Priority::P2),
            AlarmKind::Separation => (AlertKind::Separation, Priority::P2),
            AlarmKind::Fall => (AlertKind::Fall, Priority::P2),
        };
        let (other_role, other_side) = match role {
            Role::Victim => (Role::Perpetrator, &self.order.perpetrators),
            Role::Perpetrator => (Role::Victim, &self.order.victims),
        };
        let other = other_side
            .iter()
            .enumerate()
            .find_map(|(i, d)| positions(other_role, i).and_then(|l| party(d, &l.position)));
        let (victim, perpetrator) = match role {
            Role::Victim => (position, other),
            Role::Perpetrator => (other, position),
        };
        let trigger = Trigger {
            priority,
            confidence: None,
            victim,
            perpetrator,
            distance_m: None,
            press: Some(Press { late }),
            time,
        };
        let slot = Slot::of(kind);
        self.sync(slot.clone(), Some(trigger));
        self.state
            .alerts
            .iter()
            .find(|a| a.slot == slot)
            .map(|a| a.id().clone())
    }

    /// The silence rule, on the server clock: `heard` gives when a device's
    /// last message was received.
    pub fn silence(&mut self, heard: &dyn Fn(&DeviceId) -> Option<TimestampMs>) {
        let since = self.state.since;
        let silent = |device: &DeviceId, limit_s: u64| {
            let last = heard(device).map_or(since, |t| t.max(since));
            self.now.millis().saturating_sub(last.millis()) > limit_s * 1000
        };
        let priority = if self
            .order
            .perpetrators
            .iter()
            .any(|d| silent(d, self.config.perp_silence_s))
        {
            Some(Priority::P2)
        } else if self
            .order
            .victims
            .iter()
            .any(|d| silent(d, self.config.victim_silence_s))
        {
            Some(Priority::P3)
        } else {
            None
        };
        let trigger = priority.map(|priority| self.plain(priority));
        self.sync(Slot::of(AlertKind::SignalLost), trigger);
    }

    /// The battery rule: `low` tells whether a device's battery is low.
    pub fn battery(&mut self, low: &dyn Fn(&DeviceId) -> bool) {
        let any_low = self.order.devices().any(|(d, _)| low(d));
        let trigger = any_low.then(|| self.plain(Priority::P3));
        self.sync(Slot::of(AlertKind::BatteryLow), trigger);
    }

    /// Whether an alert of `kind` is open.
    pub fn has_open(&self, kind: AlertKind) -> bool {
        self.state.alerts.iter().any(|a| a.slot.kind == kind)
    }

    fn plain(&self, priority: Priority) -> Trigger {
        Trigger {
            priority,
            confidence: None,
            victim: None,
            perpetrator: None,
            distance_m: None,
            press: None,
            time: self.now,
        }
    }

    /// Syncs an alert whose condition several parties share (zone alerts
    /// with several perpetrator devices, proximity with several pairs): it
    /// clears when no party holds it (`any` false), and a party updates it,
    /// with its own positions, only while that party holds it (`own`).
    fn sync_shared(&mut self, slot: Slot, any: bool, own: Option<Trigger>) {
        match (any, own) {
            (false, _) => self.sync(slot, None),
            (true, Some(trigger)) => self.sync(slot, Some(trigger)),
            (true, None) => {}
        }
    }

    /// Brings the alert of `slot` in line with its condition: `Some` opens or
    /// updates it, `None` clears it.
    fn sync(&mut self, slot: Slot, condition: Option<Trigger>) {
        let index = self.state.alerts.iter().position(|a| a.slot == slot);
        let (index, revision) = match (index, condition) {
            (None, None) => return,
            (Some(index), None) => (index, self.state.alerts[index].clear(self.now)),
            (Some(index), Some(trigger)) => {
                let interval = self.config.position_revision_s;
                (
                    index,
                    self.state.alerts[index].trigger(trigger, interval, self.now),
                )
            }
            (None, Some(trigger)) => {
                let id = self.ids.next();
                let incident = self
                    .state
                    .open_incident()
                    .cloned()
                    .unwrap_or_else(|| IncidentId::new(id.as_str()));
                let owner = Owner {
                    order_id: Some(&self.order.id),
                    region: Some(&self.order.region),
                    exercise: self.order.exercise,
                };
                let alert = Alert::open(id, incident, slot, owner, trigger, self.now);
                let first = alert.current().clone();
                self.state.alerts.push(alert);
                (self.state.alerts.len() - 1, Some(first))
            }
        };
        let Some(body) = revision else {
            return;
        };
        self.changed = true;
        self.effects.push(Effect::Dispatch(Box::new(body)));
        self.warn(index);
        if self.state.alerts[index].is_resolved() {
            let alert = self.state.remove_resolved(index);
            self.closed.push(alert);
        }
    }

    /// Sends the warnings the alert's latest revision calls for
    /// (docs/detection.md#warnings-to-devices).
    fn warn(&mut self, index: usize) {
        let alert = &mut self.state.alerts[index];
        let body = alert.current();
        let Some((level, targets)) = warning::recipients(self.order, body.kind) else {
            return;
        };
        let cleared = body.cleared_at.is_some();
        let level = match (cleared, alert.warned) {
            (false, false) if warning::starts(self.order, body.kind, body.priority) => level,
            (true, true) => WarningLevel::Clear,
            _ => return,
        };
        alert.warned = !cleared;
        let id = alert.id().clone();
        for device in targets {
            self.effects
                .push(Effect::warning(device.clone(), level, id.clone(), self.now));
        }
    }

    /// The persist effect for this order, when its state changed.
    pub fn persist(&self) -> Option<Effect> {
        self.changed
            .then(|| Effect::Persist(StateKey::Order(self.order.id.clone())))
    }
}

/// The alarm trigger of a level: P1 when certain, P2 when possible, none below.
fn alarm_trigger(level: Level, base: &Trigger) -> Option<Trigger> {
    let confidence = level.confidence()?;
    let priority = if level == Level::CertainAlarm {
        Priority::P1
    } else {
        Priority::P2
    };
    Some(Trigger {
        priority,
        confidence: Some(confidence),
        ..base.clone()
    })
}
