//! The board's behaviour against an embedded store.

use vangnet_proto::{AlertKind, IncidentId, OrderId, Priority, TimestampMs, UtcTime};

use super::held::partition_of;
use super::*;
use crate::store::{Commit, CommitOutcome, EmbeddedStore, StateParts, TimelineEntry};

const T0: u64 = 1_764_331_200_000;
const HOUR_S: u64 = 3600;

/// A store in a temporary file, kept as long as the directory.
fn store() -> (tempfile::TempDir, EmbeddedStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("vangnet.redb")).unwrap();
    (dir, store)
}

/// Revision `revision` of `alert` in `incident` of `order`, made at `T0 + at_s`.
fn revision(
    order: &str,
    alert: &str,
    incident: &str,
    revision: u32,
    status: AlertStatus,
    at_s: u64,
) -> DispatchBody {
    DispatchBody {
        alert_id: AlertId::new(alert),
        incident_id: IncidentId::new(incident),
        revision,
        order_id: Some(OrderId::new(order)),
        region: Some(
            if order == "order-18" {
                "noord"
            } else {
                "utrecht"
            }
            .into(),
        ),
        priority: Priority::P2,
        kind: AlertKind::ZoneAlarm,
        confidence: None,
        status,
        exercise: false,
        late: false,
        count: 1,
        created_at: UtcTime(TimestampMs(T0)),
        updated_at: UtcTime(TimestampMs(T0 + at_s * 1000)),
        cleared_at: None,
        victim: None,
        perpetrator: None,
        zone: None,
        distance_m: None,
        summary: format!("{alert} revision {revision}"),
    }
}

/// Commits `revisions`, each in its order's partition.
async fn commit(store: &EmbeddedStore, revisions: Vec<DispatchBody>) {
    for body in revisions {
        let partition = partition_of(&body);
        let expected = store
            .load(&partition)
            .await
            .unwrap()
            .map_or(0, |v| v.version);
        let commit = Commit {
            parts: StateParts::new(),
            revisions: vec![TimelineEntry {
                revision: body,
                act: None,
            }],
            history: Vec::new(),
            at: TimestampMs(T0),
        };
        let outcome = store.commit(&partition, expected, commit).await.unwrap();
        assert_eq!(outcome, CommitOutcome::Committed(expected + 1));
    }
}

fn held_ids(board: &AlertBoard) -> Vec<String> {
    let mut ids: Vec<_> = board.read().key_of_id.keys().cloned().collect();
    ids.sort();
    ids
}

fn everything(_: &DispatchBody) -> bool {
    true
}

/// Every alert `wanted` accepts (with `not_resolved`, only alerts not
/// resolved), read `limit` at a time: each as `id/revision`.
async fn every_page(
    board: &AlertBoard,
    store: &EmbeddedStore,
    limit: usize,
    (not_resolved, wanted): (bool, impl Fn(&DispatchBody) -> bool + Copy),
) -> Vec<String> {
    board.catch_up(store).await.unwrap();
    let mut listed = Vec::new();
    let mut before = None;
    loop {
        let page = board
            .page(store, before.as_ref(), limit, not_resolved, wanted)
            .await
            .unwrap();
        assert!(page.len() <= limit);
        listed.extend(page.iter().map(|held| {
            assert_eq!(
                held.json.get(),
                Held::of(held.body.clone()).unwrap().json.get()
            );
            format!("{}/{}", held.body.alert_id, held.body.revision)
        }));
        match page.last() {
            Some(last) if page.len() == limit => before = Some(key_of(&last.body)),
            _ => return listed,
        }
    }
}

/// Every incident `wanted` accepts (with `not_resolved`, only incidents
/// not resolved), read `limit` at a time: each as JSON.
async fn every_incident_page(
    board: &AlertBoard,
    store: &EmbeddedStore,
    limit: usize,
    (not_resolved, wanted): (bool, impl Fn(&Incident) -> bool + Copy),
) -> Vec<String> {
    board.catch_up(store).await.unwrap();
    let mut listed = Vec::new();
    let mut before = None;
    loop {
        let page = board
            .incidents(
                store,
                before.as_ref(),
                limit,
                not_resolved,
                everything,
                wanted,
            )
            .await
            .unwrap();
        assert!(page.len() <= limit);
        listed.extend(
            page.iter()
                .map(|(_, incident)| serde_json::to_string(incident).unwrap()),
        );
        match page.last() {
            Some((key, _)) if page.len() == limit => before = Some(key.clone()),
            _ => return listed,
        }
    }
}

/// Two days of incidents in two orders: resolved and open, of one alert
/// and of several, some revised later, some alerts at the same time.
async fn two_days(store: &EmbeddedStore) {
    use AlertStatus::{Acknowledged, Open, Resolved};
    commit(
        store,
        vec![
            revision("order-17", "a1", "a1", 1, Open, 0),
            revision("order-17", "a2", "a1", 1, Open, 60),
            revision("order-18", "b1", "b1", 1, Open, 60),
            revision("order-17", "c1", "c1", 1, Open, 120),
            revision("order-17", "a1", "a1", 2, Resolved, 2 * HOUR_S),
            revision("order-17", "a2", "a1", 2, Resolved, 2 * HOUR_S),
            revision("order-18", "d1", "d1", 1, Open, 3 * HOUR_S),
            revision("order-18", "b1", "b1", 2, Acknowledged, 5 * HOUR_S),
            revision("order-17", "e1", "e1", 1, Open, 20 * HOUR_S),
            revision("order-17", "e1", "e1", 2, Resolved, 21 * HOUR_S),
            revision("order-18", "d2", "d1", 1, Open, 30 * HOUR_S),
            revision("order-18", "d1", "d1", 2, Resolved, 30 * HOUR_S),
            revision("order-18", "d2", "d1", 2, Resolved, 31 * HOUR_S),
            revision("order-17", "f1", "f1", 1, Open, 40 * HOUR_S),
            revision("order-17", "g1", "g1", 1, Open, 40 * HOUR_S),
            revision("order-17", "f1", "f1", 2, Resolved, 41 * HOUR_S),
            revision("order-17", "h1", "h1", 1, Open, 47 * HOUR_S),
        ],
    )
    .await;
}

/// A list's filter of alerts.
type AlertFilter = fn(&DispatchBody) -> bool;
/// A list's filter of incidents.
type IncidentFilter = fn(&Incident) -> bool;

fn unbounded() -> AlertBoard {
    AlertBoard::new(Duration::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolved_alert_older_than_the_window_leaves_memory() {
    let (_dir, store) = store();
    let board = AlertBoard::new(Duration::from_secs(HOUR_S));
    commit(
        &store,
        vec![
            revision("order-17", "a1", "a1", 1, AlertStatus::Open, 0),
            revision("order-17", "b1", "b1", 1, AlertStatus::Open, 0),
        ],
    )
    .await;
    board.catch_up(&store).await.unwrap();
    assert_eq!(held_ids(&board), ["a1", "b1"]);

    commit(
        &store,
        vec![revision(
            "order-17",
            "a1",
            "a1",
            2,
            AlertStatus::Resolved,
            60,
        )],
    )
    .await;
    board.catch_up(&store).await.unwrap();
    assert_eq!(held_ids(&board), ["a1", "b1"]);

    commit(
        &store,
        vec![revision(
            "order-17",
            "c1",
            "c1",
            1,
            AlertStatus::Open,
            60 + HOUR_S + 1,
        )],
    )
    .await;
    board.catch_up(&store).await.unwrap();
    assert_eq!(held_ids(&board), ["b1", "c1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_alert_stays_on_the_board_however_old() {
    let (_dir, store) = store();
    let board = AlertBoard::new(Duration::ZERO);
    commit(
        &store,
        vec![
            revision("order-17", "a1", "a1", 1, AlertStatus::Open, 0),
            revision("order-17", "b1", "b1", 1, AlertStatus::Acknowledged, 0),
            revision("order-17", "c1", "c1", 1, AlertStatus::Resolved, 0),
            revision(
                "order-17",
                "d1",
                "d1",
                1,
                AlertStatus::Resolved,
                365 * 24 * HOUR_S,
            ),
        ],
    )
    .await;
    board.catch_up(&store).await.unwrap();
    assert_eq!(held_ids(&board), ["a1", "b1", "d1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_board_filled_from_the_store_loads_only_open_incidents_and_the_window() {
    let (_dir, store) = store();
    two_days(&store).await;
    let board = AlertBoard::new(Duration::from_secs(10 * HOUR_S));
    board.catch_up(&store).await.unwrap();
    assert_eq!(held_ids(&board), ["b1", "c1", "f1", "g1", "h1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_of_an_open_incident_stays_with_it_though_resolved_and_old() {
    let (_dir, store) = store();
    let board = AlertBoard::new(Duration::ZERO);
    commit(
        &store,
        vec![
            revision("order-17", "a1", "a1", 1, AlertStatus::Resolved, 0),
            revision("order-17", "a2", "a1", 1, AlertStatus::Open, 10),
            revision("order-17", "b1", "b1", 1, AlertStatus::Resolved, 20),
        ],
    )
    .await;
    board.catch_up(&store).await.unwrap();
    assert_eq!(held_ids(&board), ["a1", "a2", "b1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revision_of_an_incident_that_left_memory_brings_back_all_its_alerts() {
    let (_dir, store) = store();
    let board = AlertBoard::new(Duration::from_secs(HOUR_S));
    commit(
        &store,
        vec![
            revision("order-17", "a1", "a1", 1, AlertStatus::Resolved, 0),
            revision("order-17", "a2", "a1", 1, AlertStatus::Resolved, 10),
            revision("order-17", "b1", "b1", 1, AlertStatus::Open, 2 * HOUR_S),
        ],
    )
    .await;
    board.catch_up(&store).await.unwrap();
    assert_eq!(held_ids(&board), ["b1"]);

    commit(
        &store,
        vec![revision(
            "order-17",
            "a3",
            "a1",
            1,
            AlertStatus::Open,
            3 * HOUR_S,
        )],
    )
    .await;
    board.catch_up(&store).await.unwrap();
    assert_eq!(held_ids(&board), ["a1", "a2", "a3", "b1"]);
    let incident = board
        .incident(&store, "a1", everything)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(incident.alerts.len(), 3);
    assert_eq!(incident.status, AlertStatus::Open);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_list_pages_past_the_window_into_the_store_without_gaps_or_repeats() {
    let (_dir, store) = store();
    two_days(&store).await;
    let all = every_page(&unbounded(), &store, 100, (false, everything)).await;
    assert_eq!(
        all,
        [
            "h1/1", "f1/2", "g1/1", "d2/2", "d1/2", "e1/2", "b1/2", "a2/2", "a1/2", "c1/1"
        ]
    );
    for window_h in [0, 1, 10, 30] {
        let board = AlertBoard::new(Duration::from_secs(window_h * HOUR_S));
        for limit in [1, 2, 3, 100] {
            let listed = every_page(&board, &store, limit, (false, everything)).await;
            assert_eq!(listed, all);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alert_list_answers_the_same_with_a_window_of_0_s_as_unbounded() {
    let (_dir, store) = store();
    two_days(&store).await;
    let narrow = AlertBoard::new(Duration::ZERO);
    let wide = unbounded();
    let filters: [(bool, AlertFilter); 5] = [
        (false, everything),
        (false, |alert| alert.status == AlertStatus::Resolved),
        (false, |alert| alert.status != AlertStatus::Resolved),
        (true, |alert| alert.status != AlertStatus::Resolved),
        (false, |alert| alert.region.as_deref() == Some("noord")),
    ];
    for wanted in filters {
        for limit in [1, 2, 5] {
            assert_eq!(
                every_page(&narrow, &store, limit, wanted).await,
                every_page(&wide, &store, limit, wanted).await
            );
        }
    }
    commit(
        &store,
        vec![
            revision(
                "order-17",
                "c1",
                "c1",
                2,
                AlertStatus::Resolved,
                48 * HOUR_S,
            ),
            revision(
                "order-18",
                "b1",
                "b1",
                3,
                AlertStatus::Resolved,
                48 * HOUR_S,
            ),
        ],
    )
    .await;
    assert_eq!(
        every_page(&narrow, &store, 2, (false, everything)).await,
        every_page(&wide, &store, 2, (false, everything)).await
    );
    assert_eq!(held_ids(&narrow), ["b1", "c1", "g1", "h1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_incident_list_and_reads_answer_the_same_with_a_window_of_0_s_as_unbounded() {
    let (_dir, store) = store();
    two_days(&store).await;
    let narrow = AlertBoard::new(Duration::ZERO);
    let wide = unbounded();
    let all = every_incident_page(&wide, &store, 100, (false, |_| true)).await;
    assert_eq!(all.len(), 8);
    let filters: [(bool, IncidentFilter); 4] = [
        (false, |_| true),
        (false, |incident| incident.status == AlertStatus::Resolved),
        (true, |incident| incident.status != AlertStatus::Resolved),
        (false, |incident| {
            incident.region.as_deref() == Some("utrecht")
        }),
    ];
    for wanted in filters {
        for limit in [1, 2, 3, 100] {
            assert_eq!(
                every_incident_page(&narrow, &store, limit, wanted).await,
                every_incident_page(&wide, &store, limit, wanted).await
            );
        }
    }
    for id in ["a1", "b1", "c1", "d1", "e1", "f1", "g1", "h1", "a2", "none"] {
        assert_eq!(
            board_incident(&narrow, &store, id).await,
            board_incident(&wide, &store, id).await,
            "incident {id}"
        );
    }
    assert!(board_incident(&narrow, &store, "d1").await.is_some());
    assert!(board_incident(&narrow, &store, "a2").await.is_none());
    let only_noord = |alert: &DispatchBody| alert.region.as_deref() == Some("noord");
    assert!(
        narrow
            .incident(&store, "a1", only_noord)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_of_alerts_not_resolved_is_answered_from_memory_however_old() {
    let (_dir, store) = store();
    two_days(&store).await;
    let board = AlertBoard::new(Duration::ZERO);
    board.catch_up(&store).await.unwrap();
    let (_empty_dir, empty) = self::store();
    let not_resolved = |alert: &DispatchBody| alert.status != AlertStatus::Resolved;
    let listed = board
        .page(&empty, None, 100, true, not_resolved)
        .await
        .unwrap();
    let ids: Vec<_> = listed
        .iter()
        .map(|held| held.body.alert_id.as_str())
        .collect();
    assert_eq!(ids, ["h1", "g1", "b1", "c1"]);
}

/// The incident `id` as JSON, if there is one.
async fn board_incident(board: &AlertBoard, store: &EmbeddedStore, id: &str) -> Option<String> {
    let incident = board.incident(store, id, everything).await.unwrap();
    incident.map(|incident| serde_json::to_string(&incident).unwrap())
}
