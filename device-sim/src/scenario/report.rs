//! Judging what Vangnet raised against what the scenario expects and what
//! truly happened, and the report: text for people, JSON for tools.
//!
//! Every expectation (the scenario's `[[expect]]` and the truth's own alarms
//! and incidents) is found when a revision of its kind (order, zone) with at
//! least its priority arrived within its window. An alert episode is a false
//! alarm unless an expectation of its kind, a true episode of a related kind
//! near its time, or the scenario's `allow` list explains it; episodes first
//! seen after the scenario's end are not judged (the devices falling quiet
//! then is silence). A flap is a condition that cleared and came back.

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
    /// Conditions that cleared and came back.
    pub flaps: Vec<Flap>,
    /// How many flaps the scenario tolerates, if it limits them.
    pub max_flaps: Option<usize>,
    /// Alerts whose `exercise` flag differs from their order's.
    pub isolation_breaches: Vec<String>,
    /// Alert revisions received.
    pub revisions: usize,
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
    /// Compares `seen` with the scenario's expectations and the `truth`.
    pub fn judge(
        name: &str,
        speed: f64,
        scenario: &Scenario,
        truth: Vec<Episode>,
        seen: &[Seen],
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
            let Some(due) = e.due_s else { continue };
            let hit = seen.iter().find(|s| {
                e.matches(
                    s.body.kind,
                    s.order.as_deref(),
                    s.body.zone.as_ref().map(|z| z.as_str()),
                ) && s.body.priority >= e.priority
                    && (due - e.early_s..=due + e.within_s).contains(&s.t)
            });
            if let Some(hit) = hit {
                e.delay_s = Some(hit.t - due);
                e.got = Some(hit.body.priority);
            }
        }
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
        let passed = expected.iter().all(Expected::found)
            && false_alarms.len() <= scenario.max_false_alarms
            && scenario.max_flaps.is_none_or(|max| flaps.len() <= max)
            && isolation_breaches.is_empty();
        Self {
            scenario: name.to_owned(),
            speed,
            passed,
            expected,
            false_alarms,
            max_false_alarms: scenario.max_false_alarms,
            flaps,
            max_flaps: scenario.max_flaps,
            isolation_breaches,
            revisions: seen.len(),
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
            let what = format!(
                "{:?} {}{}{} ≥{:?}",
                e.source,
                kind_name(e.kind),
                e.order
                    .as_ref()
                    .map_or(String::new(), |o| format!(" order {o}")),
                e.zone
                    .as_ref()
                    .map_or(String::new(), |z| format!(" zone {z}")),
                e.priority
            );
            let outcome = match (e.due_s, e.delay_s, e.got) {
                (None, _, _) => "MISSING: the truth never had it".to_owned(),
                (Some(due), Some(delay), Some(got)) => {
                    format!("found {got:?} {delay:+.1} s after {due:.0} s")
                }
                (Some(due), _, _) => {
                    format!("MISSED: nothing within {:.0} s of {due:.0} s", e.within_s)
                }
            };
            out.push_str(&format!("  expected {what}: {outcome}\n"));
        }
        for f in &self.false_alarms {
            out.push_str(&format!(
                "  FALSE ALARM {} {:?}{} at {:.0} s\n",
                kind_name(f.kind),
                f.priority,
                f.zone
                    .as_ref()
                    .map_or(String::new(), |z| format!(" zone {z}")),
                f.at_s
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
            "  false alarms {} (max {}), flaps {}{}, isolation breaches {}, revisions received {}\n",
            self.false_alarms.len(),
            self.max_false_alarms,
            self.flaps.len(),
            self.max_flaps.map_or(String::new(), |m| format!(" (max {m})")),
            self.isolation_breaches.len(),
            self.revisions
        ));
        out
    }
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

    fn scenario(extra: &str) -> Scenario {
        toml::from_str(&format!(
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
        ))
        .unwrap()
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
        );
        assert!(report.passed);
        assert_eq!(report.expected[0].source, Source::Truth);
        assert_eq!(report.expected[0].delay_s, Some(30.0));
    }

    #[test]
    fn a_true_violation_never_raised_is_a_miss() {
        let truth = vec![episode(AlertKind::ProximityAlarm, 100.0, 200.0)];
        let report = Report::judge("s", 1.0, &scenario(""), truth, &[]);
        assert!(!report.passed);
        assert!(!report.expected[0].found());
    }

    #[test]
    fn an_alert_without_truth_or_expectation_is_a_false_alarm_once_per_episode() {
        let alerts = [
            seen(50.0, "a", "zone_alarm", "P2", false),
            seen(80.0, "a", "zone_alarm", "P1", false),
        ];
        let report = Report::judge("s", 1.0, &scenario(""), Vec::new(), &alerts);
        assert!(!report.passed);
        assert_eq!(report.false_alarms.len(), 1);
        assert_eq!(report.false_alarms[0].priority, Priority::P1);
        let tolerant = Report::judge(
            "s",
            1.0,
            &scenario("max_false_alarms = 1"),
            Vec::new(),
            &alerts,
        );
        assert!(tolerant.passed);
    }

    #[test]
    fn a_prealarm_near_a_true_alarm_is_explained() {
        let truth = vec![episode(AlertKind::ProximityAlarm, 100.0, 200.0)];
        let alerts = [
            seen(60.0, "b", "proximity_prealarm", "P2", false),
            seen(110.0, "a", "proximity_alarm", "P1", false),
        ];
        let report = Report::judge("s", 1.0, &scenario(""), truth, &alerts);
        assert!(report.false_alarms.is_empty());
    }

    #[test]
    fn an_alert_first_seen_after_the_end_is_not_judged() {
        let alerts = [seen(700.0, "a", "signal_lost", "P2", false)];
        assert!(Report::judge("s", 1.0, &scenario(""), Vec::new(), &alerts).passed);
    }

    #[test]
    fn a_condition_that_clears_and_returns_is_a_flap() {
        let alerts = [
            seen(10.0, "a", "zone_prealarm", "P2", false),
            seen(40.0, "a", "zone_prealarm", "P2", true),
            seen(70.0, "a", "zone_prealarm", "P2", false),
        ];
        let scenario = scenario("max_flaps = 0\nallow = [\"zone_prealarm\"]");
        let report = Report::judge("s", 1.0, &scenario, Vec::new(), &alerts);
        assert_eq!(report.flaps.len(), 1);
        assert!(!report.passed);
    }

    #[test]
    fn an_alert_with_another_exercise_flag_than_its_order_breaches_isolation() {
        let mut alert = seen(10.0, "a", "tamper", "P2", false);
        alert.order_exercise = Some(false);
        let scenario = scenario("allow = [\"tamper\"]");
        let report = Report::judge("s", 1.0, &scenario, Vec::new(), &[alert]);
        assert_eq!(report.isolation_breaches, ["a/1"]);
        assert!(!report.passed);
    }
}
