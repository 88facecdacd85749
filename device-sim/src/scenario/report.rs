//! Judging what Vangnet raised against what the scenario expects and what
//! truly happened, and the report: text for people, JSON for tools.
//!
//! Every expectation (the scenario's `[[expect]]` and the truth's own alarms
//! and incidents) is found when a revision of its kind (order, zone) with at
//! least its priority arrived within its window. An alert episode is a false
//! alarm unless an expectation of its kind, a true episode of a related kind
//! near its time, or the scenario's `allow` list explains it; episodes first
//! seen after the scenario's end are not judged (the devices falling quiet
//! then is silence), and those below the scenario's `tolerate_below` are
//! listed but never fail the run. A flap is a condition that cleared and
//! came back.
//!
//! When the runner served the dispatch sink, every expectation police
//! dispatch should get (the default route of docs/api.md#police-dispatch: P1 and P2 of real
//! orders) must have reached it within its window, and any revision of an
//! exercise alert or order reaching it fails the run (isolation).

use std::collections::HashMap;

use serde::Serialize;
use vangnet_proto::{AlertKind, DispatchBody, Priority};

use super::model::{Due, Scenario};
use super::truth::Episode;

/// One alert revision as the runner received it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Scenario time of its arrival (s).
    pub t: f64,
    /// Its order as the scenario names it.
    pub order: Option<String>,
    /// Whether that order is an exercise order.
    pub order_exercise: Option<bool>,
    /// The revision.
    pub body: DispatchBody,
}

/// Where an expectation comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// An `[[expect]]` of the scenario.
    Scenario,
    /// A true violation or incident.
    Truth,
}

/// One expected alert and whether it came.
#[derive(Debug, Clone, Serialize)]
pub struct Expected {
    /// Where the expectation comes from.
    pub source: Source,
    /// The alert's kind.
    pub kind: AlertKind,
    /// Its order, when it matters.
    pub order: Option<String>,
    /// Its zone, when it matters.
    pub zone: Option<String>,
    /// The least priority that counts.
    pub priority: Priority,
    /// When it was due (scenario s); none when the truth never had it.
    pub due_s: Option<f64>,
    /// How long it may take (scenario s).
    pub within_s: f64,
    /// How long before `due_s` a match counts: a truth-timed alarm may come early on uncertainty.
    #[serde(skip)]
    early_s: f64,
    /// The matching revision's arrival minus `due_s` (scenario s), if found.
    pub delay_s: Option<f64>,
    /// The matching revision's priority.
    pub got: Option<Priority>,
}

impl Expected {
    /// Whether a matching alert came in time.
    pub fn found(&self) -> bool {
        self.delay_s.is_some()
    }

    /// Records the first of `seen` that matches in time.
    fn look_for(&mut self, seen: &[Seen]) {
        let Some(due) = self.due_s else { return };
        let hit = seen.iter().find(|s| {
            self.matches(
                s.body.kind,
                s.order.as_deref(),
                s.body.zone.as_ref().map(|z| z.as_str()),
            ) && s.body.priority >= self.priority
                && (due - self.early_s..=due + self.within_s).contains(&s.t)
        });
        if let Some(hit) = hit {
            self.delay_s = Some(hit.t - due);
            self.got = Some(hit.body.priority);
        }
    }

    /// Whether the default dispatch route takes it: P1 or P2 of a real order.
    fn for_police(&self, scenario: &Scenario) -> bool {
        self.priority >= Priority::P2
            && match &self.order {
                Some(order) => scenario.exercise(order) == Some(false),
                None => {
                    self.kind == AlertKind::PanicUnassigned
                        || scenario
                            .orders
                            .iter()
                            .filter_map(|o| o.get("id")?.as_str())
                            .all(|id| scenario.exercise(id) == Some(false))
                }
            }
    }

    /// What it is, for the text report.
    fn describe(&self) -> String {
        format!(
            "{:?} {}{}{} ≥{:?}",
            self.source,
            kind_name(self.kind),
            self.order
                .as_ref()
                .map_or(String::new(), |o| format!(" order {o}")),
            self.zone
                .as_ref()
                .map_or(String::new(), |z| format!(" zone {z}")),
            self.priority
        )
    }

    /// How it went, for the text report.
    fn outcome(&self) -> String {
        match (self.due_s, self.delay_s, self.got) {
            (None, _, _) => "MISSING: the truth never had it".to_owned(),
            (Some(due), Some(delay), Some(got)) => {
                format!("found {got:?} {delay:+.1} s after {due:.0} s")
            }
            (Some(due), _, _) => {
                format!(
                    "MISSED: nothing within {:.0} s of {due:.0} s",
                    self.within_s
                )
            }
        }
    }

    fn matches(&self, kind: AlertKind, order: Option<&str>, zone: Option<&str>) -> bool {
        self.kind == kind
            && self.order.as_deref().is_none_or(|o| order == Some(o))
            && self.zone.as_deref().is_none_or(|z| zone == Some(z))
    }
}

/// An alert episode nothing explains.
#[derive(Debug, Clone, Serialize)]
pub struct FalseAlarm {
    /// Its kind.
    pub kind: AlertKind,
    /// Its highest priority.
    pub priority: Priority,
    /// Its order.
    pub order: Option<String>,
    /// Its zone.
    pub zone: Option<String>,
    /// When it first arrived (scenario s).
    pub at_s: f64,
}

/// A condition that cleared and came back.
#[derive(Debug, Clone, Serialize)]
pub struct Flap {
    /// The alert's kind.
    pub kind: AlertKind,
    /// Its order.
    pub order: Option<String>,
    /// Its zone.
    pub zone: Option<String>,
    /// When it came back (scenario s).
    pub at_s: f64,
}

/// What police dispatch received, when the runner served its sink.
#[derive(Debug, Clone, Serialize)]
pub struct Dispatch {
    /// The expectations the default route takes, each found when the sink received it in time.
    pub expected: Vec<Expected>,
    /// Revisions (`alert_id/revision`) of exercise alerts or orders the sink received: never allowed.
    pub exercise_dispatched: Vec<String>,
    /// This run's revisions the sink received.
    pub revisions: usize,
}

impl Dispatch {
    /// Checks the sink's `received` revisions against the police's share of `expected`.
    fn judge(expected: &[Expected], scenario: &Scenario, received: &[Seen]) -> Self {
        let expected = expected
            .iter()
            .filter(|e| e.for_police(scenario))
            .map(|e| {
                let mut e = Expected {
                    delay_s: None,
                    got: None,
                    ..e.clone()
                };
                e.look_for(received);
                e
            })
            .collect();
        let exercise_dispatched = received
            .iter()
            .filter(|s| s.body.exercise || s.order_exercise == Some(true))
            .map(|s| format!("{}/{}", s.body.alert_id, s.body.revision))
            .collect();
        Self {
            expected,
            exercise_dispatched,
            revisions: received.len(),
        }
    }

    /// Everything due reached police and nothing of an exercise did.
    fn held(&self) -> bool {
        self.expected.iter().all(Expected::found) && self.exercise_dispatched.is_empty()
    }
}

/// The verdict of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The scenario file.
    pub scenario: String,
    /// Scenario seconds per real second.
    pub speed: f64,
    /// Expectations held, false alarms and flaps within bounds, exercise kept apart.
    pub passed: bool,
    /// Every expectation and its outcome.
    pub expected: Vec<Expected>,
    /// Alert episodes nothing explains.
    pub false_alarms: Vec<FalseAlarm>,
    /// How many false alarms the scenario tolerates.
    pub max_false_alarms: usize,
    /// False alarms below this priority do not count against `max_false_alarms`.
    pub tolerate_below: Option<Priority>,
    /// Conditions that cleared and came back.
    pub flaps: Vec<Flap>,
    /// How many flaps the scenario tolerates, if it limits them.
    pub max_flaps: Option<usize>,
    /// Alerts whose `exercise` flag differs from their order's.
    pub isolation_breaches: Vec<String>,
    /// Alert revisions received.
    pub revisions: usize,
    /// What police dispatch received; none when the runner did not serve the sink.
    pub dispatch: Option<Dispatch>,
    /// What truly happened.
    pub truth: Vec<Episode>,
}

/// Kinds of true episodes that explain an alert of `kind`.
fn explained_by(kind: AlertKind) -> &'static [AlertKind] {
    use AlertKind::*;
    match kind {
        ZonePrealarm => &[ZonePrealarm, ZoneAlarm],
        ProximityPrealarm | ProximityApproach => &[ProximityPrealarm, ProximityAlarm],
        ZoneAlarm => &[ZoneAlarm],
        ProximityAlarm => &[ProximityAlarm],
        Panic => &[Panic],
        PanicUnassigned => &[PanicUnassigned],
        Tamper => &[Tamper],
        StrapOpen => &[StrapOpen],
        Separation => &[Separation],
        Fall => &[Fall],
        SignalLost => &[SignalLost],
        BatteryLow => &[BatteryLow],
    }
}

/// Kinds whose true episodes Vangnet must raise by themselves.
fn must_raise(kind: AlertKind) -> Option<Priority> {
    match kind {
        AlertKind::ZoneAlarm | AlertKind::ProximityAlarm => Some(Priority::P2),
        AlertKind::Panic => Some(Priority::P1),
        AlertKind::BatteryLow => Some(Priority::P3),
        AlertKind::Tamper
        | AlertKind::StrapOpen
        | AlertKind::Separation
        | AlertKind::Fall
        | AlertKind::PanicUnassigned => Some(Priority::P2),
        _ => None,
    }
}

impl Report {
    /// Compares `seen` (and what was `dispatched`, if observed) with the scenario's expectations and the `truth`.
    pub fn judge(
        name: &str,
        speed: f64,
        scenario: &Scenario,
        truth: Vec<Episode>,
        seen: &[Seen],
        dispatched: Option<&[Seen]>,
    ) -> Self {
        let mut expected: Vec<Expected> = scenario
            .expectations
            .iter()
            .map(|e| {
                let early_s = match e.after {
                    Due::At(_) => 0.0,
                    Due::Truth => e.within_s,
                };
                let due_s = match e.after {
                    Due::At(t) => Some(t),
                    Due::Truth => truth
                        .iter()
                        .filter(|ep| explained_by(e.kind).contains(&ep.kind))
                        .filter(|ep| e.order.is_none() || ep.order == e.order)
                        .filter(|ep| e.zone.is_none() || ep.zone == e.zone)
                        .map(|ep| ep.start_s)
                        .min_by(f64::total_cmp),
                };
                Expected {
                    source: Source::Scenario,
                    kind: e.kind,
                    order: e.order.clone(),
                    zone: e.zone.clone(),
                    priority: e.priority,
                    due_s,
                    within_s: e.within_s,
                    early_s,
                    delay_s: None,
                    got: None,
                }
            })
            .collect();
        for episode in &truth {
            let Some(priority) = must_raise(episode.kind) else {
                continue;
            };
            let covered = expected.iter().any(|e| {
                e.matches(
                    episode.kind,
                    episode.order.as_deref(),
                    episode.zone.as_deref(),
                )
            });
            if !covered {
                expected.push(Expected {
                    source: Source::Truth,
                    kind: episode.kind,
                    order: episode.order.clone(),
                    zone: episode.zone.clone(),
                    priority,
                    due_s: Some(episode.start_s),
                    within_s: scenario.truth_within_s,
                    early_s: scenario.truth_within_s,
                    delay_s: None,
                    got: None,
                });
            }
        }
        for e in &mut expected {
            e.look_for(seen);
        }
        let dispatch = dispatched.map(|received| Dispatch::judge(&expected, scenario, received));
        let episodes = episodes_of(seen);
        let false_alarms: Vec<FalseAlarm> = episodes
            .iter()
            .filter(|a| a.at_s <= scenario.duration_s && !scenario.allow.contains(&a.kind))
            .filter(|a| {
                !expected
                    .iter()
                    .any(|e| e.matches(a.kind, a.order.as_deref(), a.zone.as_deref()))
            })
            .filter(|a| {
                !truth.iter().any(|ep| {
                    explained_by(a.kind).contains(&ep.kind)
                        && ep.order == a.order
                        && (ep.zone.is_none() || ep.zone == a.zone)
                        && (ep.start_s - scenario.truth_within_s
                            ..=ep.end_s + scenario.truth_within_s)
                            .contains(&a.at_s)
                })
            })
            .cloned()
            .collect();
        let isolation_breaches: Vec<String> = seen
            .iter()
            .filter(|s| s.order_exercise.is_some_and(|x| x != s.body.exercise))
            .map(|s| format!("{}/{}", s.body.alert_id, s.body.revision))
            .collect();
        let flaps = flaps(seen);
        let counted = false_alarms
            .iter()
            .filter(|a| !tolerated(a, scenario.tolerate_below))
            .count();
        let passed = expected.iter().all(Expected::found)
            && counted <= scenario.max_false_alarms
            && scenario.max_flaps.is_none_or(|max| flaps.len() <= max)
            && isolation_breaches.is_empty()
            && dispatch.as_ref().is_none_or(Dispatch::held);
        Self {
            scenario: name.to_owned(),
            speed,
            passed,
            expected,
            false_alarms,
            max_false_alarms: scenario.max_false_alarms,
            tolerate_below: scenario.tolerate_below,
            flaps,
            max_flaps: scenario.max_flaps,
            isolation_breaches,
            revisions: seen.len(),
            dispatch,
            truth,
        }
    }

    /// The report for people.
    pub fn text(&self) -> String {
        let mut out = format!(
            "scenario {} at speed {}: {}\n",
            self.scenario,
            self.speed,
            if self.passed { "PASSED" } else { "FAILED" }
        );
        for e in &self.expected {
            out.push_str(&format!("  expected {}: {}\n", e.describe(), e.outcome()));
        }
        for f in &self.false_alarms {
            out.push_str(&format!(
                "  FALSE ALARM {} {:?}{} at {:.0} s{}\n",
                kind_name(f.kind),
                f.priority,
                f.zone
                    .as_ref()
                    .map_or(String::new(), |z| format!(" zone {z}")),
                f.at_s,
                if tolerated(f, self.tolerate_below) {
                    " (tolerated)"
                } else {
                    ""
                }
            ));
        }
        for f in &self.flaps {
            out.push_str(&format!(
                "  flap: {}{} raised again at {:.0} s after clearing\n",
                kind_name(f.kind),
                f.zone
                    .as_ref()
                    .map_or(String::new(), |z| format!(" zone {z}")),
                f.at_s
            ));
        }
        out.push_str(&format!(
            "  false alarms {} (max {}{}), flaps {}{}, isolation breaches {}, revisions received {}\n",
            self.false_alarms.len(),
            self.max_false_alarms,
            self.tolerate_below
                .map_or(String::new(), |p| format!(", below {p:?} tolerated")),
            self.flaps.len(),
            self.max_flaps.map_or(String::new(), |m| format!(" (max {m})")),
            self.isolation_breaches.len(),
            self.revisions
        ));
        match &self.dispatch {
            None => out.push_str("  dispatch: not observed (no --sink-addr)\n"),
            Some(d) => {
                for e in &d.expected {
                    out.push_str(&format!("  dispatched {}: {}\n", e.describe(), e.outcome()));
                }
                for r in &d.exercise_dispatched {
                    out.push_str(&format!("  EXERCISE DISPATCHED {r}\n"));
                }
                out.push_str(&format!(
                    "  dispatch: {} expected, {} exercise revisions dispatched, revisions received {}\n",
                    d.expected.len(),
                    d.exercise_dispatched.len(),
                    d.revisions
                ));
            }
        }
        out
    }
}

/// Whether false alarm `a` is below the tolerated priority.
fn tolerated(a: &FalseAlarm, below: Option<Priority>) -> bool {
    below.is_some_and(|p| a.priority < p)
}

/// One alert episode per alert id: first arrival and highest priority.
fn episodes_of(seen: &[Seen]) -> Vec<FalseAlarm> {
    let mut by_id: HashMap<&str, FalseAlarm> = HashMap::new();
    for s in seen {
        by_id
            .entry(s.body.alert_id.as_str())
            .and_modify(|a| a.priority = a.priority.max(s.body.priority))
            .or_insert_with(|| FalseAlarm {
                kind: s.body.kind,
                priority: s.body.priority,
                order: s.order.clone(),
                zone: s.body.zone.as_ref().map(|z| z.as_str().to_owned()),
                at_s: s.t,
            });
    }
    let mut episodes: Vec<FalseAlarm> = by_id.into_values().collect();
    episodes.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    episodes
}

/// Each time a condition cleared and was raised again, per (order, kind, zone).
fn flaps(seen: &[Seen]) -> Vec<Flap> {
    let mut cleared: HashMap<(Option<&str>, AlertKind, Option<&str>), bool> = HashMap::new();
    let mut out = Vec::new();
    for s in seen {
        let key = (
            s.order.as_deref(),
            s.body.kind,
            s.body.zone.as_ref().map(|z| z.as_str()),
        );
        let now_cleared = s.body.cleared_at.is_some();
        if cleared.insert(key, now_cleared) == Some(true) && !now_cleared {
            out.push(Flap {
                kind: s.body.kind,
                order: s.order.clone(),
                zone: key.2.map(str::to_owned),
                at_s: s.t,
            });
        }
    }
    out
}

/// The kind as the wire spells it.
fn kind_name(kind: AlertKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn scenario_text(extra: &str) -> String {
        format!(
            r#"
duration_s = 600
{extra}
[[order]]
id = "o"
region = "r"
victim_devices = ["v"]
perpetrator_devices = ["p"]
[[actor]]
device = "v"
interval_s = 30
route = {{ waypoints = [{{ at = [4.0, 52.0] }}] }}
"#
        )
    }

    fn scenario(extra: &str) -> Scenario {
        toml::from_str(&scenario_text(extra)).unwrap()
    }

    fn seen(t: f64, id: &str, kind: &str, priority: &str, cleared: bool) -> Seen {
        let body = json!({"alert_id": id, "revision": 1, "order_id": "o.x", "region": "r",
            "priority": priority, "kind": kind, "confidence": null, "status": "open",
            "exercise": true, "late": false, "count": 1,
            "created_at": "2026-11-28T12:00:00Z", "updated_at": "2026-11-28T12:00:00Z",
            "cleared_at": if cleared { json!("2026-11-28T12:00:00Z") } else { json!(null) },
            "victim": null, "perpetrator": null, "zone": null, "distance_m": null, "summary": ""});
        Seen {
            t,
            order: Some("o".into()),
            order_exercise: Some(true),
            body: serde_json::from_value(body).unwrap(),
        }
    }

    fn episode(kind: AlertKind, start_s: f64, end_s: f64) -> Episode {
        Episode {
            kind,
            order: Some("o".into()),
            zone: None,
            start_s,
            end_s,
        }
    }

    #[test]
    fn a_true_violation_raised_in_time_is_found_with_its_delay() {
        let truth = vec![episode(AlertKind::ProximityAlarm, 100.0, 200.0)];
        let report = Report::judge(
            "s",
            1.0,
            &scenario(""),
            truth,
            &[seen(130.0, "a", "proximity_alarm", "P1", false)],
            None,
        );
        assert!(report.passed);
        assert_eq!(report.expected[0].source, Source::Truth);
        assert_eq!(report.expected[0].delay_s, Some(30.0));
    }

    #[test]
    fn a_true_violation_never_raised_is_a_miss() {
        let truth = vec![episode(AlertKind::ProximityAlarm, 100.0, 200.0)];
        let report = Report::judge("s", 1.0, &scenario(""), truth, &[], None);
        assert!(!report.passed);
        assert!(!report.expected[0].found());
    }

    #[test]
    fn an_alert_without_truth_or_expectation_is_a_false_alarm_once_per_episode() {
        let alerts = [
            seen(50.0, "a", "zone_alarm", "P2", false),
            seen(80.0, "a", "zone_alarm", "P1", false),
        ];
        let report = Report::judge("s", 1.0, &scenario(""), Vec::new(), &alerts, None);
        assert!(!report.passed);
        assert_eq!(report.false_alarms.len(), 1);
        assert_eq!(report.false_alarms[0].priority, Priority::P1);
        let tolerant = Report::judge(
            "s",
            1.0,
            &scenario("max_false_alarms = 1"),
            Vec::new(),
            &alerts,
            None,
        );
        assert!(tolerant.passed);
    }

    #[test]
    fn a_false_alarm_below_the_tolerated_priority_is_listed_but_passes() {
        let scenario = scenario("tolerate_below = \"P1\"");
        let p2 = [seen(50.0, "a", "zone_alarm", "P2", false)];
        let report = Report::judge("s", 1.0, &scenario, Vec::new(), &p2, None);
        assert!(report.passed);
        assert_eq!(report.false_alarms.len(), 1);
        let p1 = [seen(50.0, "a", "zone_alarm", "P1", false)];
        assert!(!Report::judge("s", 1.0, &scenario, Vec::new(), &p1, None).passed);
    }

    #[test]
    fn a_prealarm_near_a_true_alarm_is_explained() {
        let truth = vec![episode(AlertKind::ProximityAlarm, 100.0, 200.0)];
        let alerts = [
            seen(60.0, "b", "proximity_prealarm", "P2", false),
            seen(110.0, "a", "proximity_alarm", "P1", false),
        ];
        let report = Report::judge("s", 1.0, &scenario(""), truth, &alerts, None);
        assert!(report.false_alarms.is_empty());
    }

    #[test]
    fn an_alert_first_seen_after_the_end_is_not_judged() {
        let alerts = [seen(700.0, "a", "signal_lost", "P2", false)];
        assert!(Report::judge("s", 1.0, &scenario(""), Vec::new(), &alerts, None).passed);
    }

    #[test]
    fn a_condition_that_clears_and_returns_is_a_flap() {
        let alerts = [
            seen(10.0, "a", "zone_prealarm", "P2", false),
            seen(40.0, "a", "zone_prealarm", "P2", true),
            seen(70.0, "a", "zone_prealarm", "P2", false),
        ];
        let scenario = scenario("max_flaps = 0\nallow = [\"zone_prealarm\"]");
        let report = Report::judge("s", 1.0, &scenario, Vec::new(), &alerts, None);
        assert_eq!(report.flaps.len(), 1);
        assert!(!report.passed);
    }

    #[test]
    fn an_alert_with_another_exercise_flag_than_its_order_breaches_isolation() {
        let mut alert = seen(10.0, "a", "tamper", "P2", false);
        alert.order_exercise = Some(false);
        let scenario = scenario("allow = [\"tamper\"]");
        let report = Report::judge("s", 1.0, &scenario, Vec::new(), &[alert], None);
        assert_eq!(report.isolation_breaches, ["a/1"]);
        assert!(!report.passed);
    }

    /// The scenario with its order real instead of an exercise.
    fn real() -> Scenario {
        let text = scenario_text("").replace("region = \"r\"", "region = \"r\"\nexercise = false");
        toml::from_str(&text).unwrap()
    }

    fn real_alarm(t: f64) -> Seen {
        let mut alarm = seen(t, "a", "proximity_alarm", "P1", false);
        alarm.body.exercise = false;
        alarm.order_exercise = Some(false);
        alarm
    }

    #[test]
    fn without_the_sink_dispatch_is_not_judged() {
        let truth = vec![episode(AlertKind::ProximityAlarm, 100.0, 200.0)];
        let report = Report::judge("s", 1.0, &real(), truth, &[real_alarm(130.0)], None);
        assert!(report.passed);
        assert!(report.text().contains("dispatch: not observed"));
    }

    #[test]
    fn a_true_alarm_of_a_real_order_reaching_dispatch_is_found_with_its_delay() {
        let truth = vec![episode(AlertKind::ProximityAlarm, 100.0, 200.0)];
        let alarm = [real_alarm(130.0)];
        let dispatched = [real_alarm(131.0)];
        let report = Report::judge("s", 1.0, &real(), truth, &alarm, Some(&dispatched));
        assert!(report.passed, "{}", report.text());
        let dispatch = report.dispatch.unwrap();
        assert_eq!(dispatch.expected.len(), 1);
        assert_eq!(dispatch.expected[0].delay_s, Some(31.0));
    }

    #[test]
    fn a_true_alarm_of_a_real_order_never_dispatched_fails_the_run() {
        let truth = vec![episode(AlertKind::ProximityAlarm, 100.0, 200.0)];
        let alarm = [real_alarm(130.0)];
        let report = Report::judge("s", 1.0, &real(), truth, &alarm, Some(&[]));
        assert!(report.expected[0].found());
        assert!(!report.passed);
    }

    #[test]
    fn an_alarm_of_an_exercise_order_is_not_expected_at_dispatch() {
        let truth = vec![episode(AlertKind::ProximityAlarm, 100.0, 200.0)];
        let alarm = [seen(130.0, "a", "proximity_alarm", "P1", false)];
        let report = Report::judge("s", 1.0, &scenario(""), truth, &alarm, Some(&[]));
        assert!(report.passed);
        assert!(report.dispatch.unwrap().expected.is_empty());
    }

    #[test]
    fn an_exercise_revision_reaching_dispatch_fails_the_run() {
        let truth = vec![episode(AlertKind::ProximityAlarm, 100.0, 200.0)];
        let alarm = [seen(130.0, "a", "proximity_alarm", "P1", false)];
        let report = Report::judge("s", 1.0, &scenario(""), truth, &alarm, Some(&alarm));
        assert_eq!(report.dispatch.unwrap().exercise_dispatched, ["a/1"]);
        assert!(!report.passed);
    }
}
