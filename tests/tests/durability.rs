//! A device shows the victim that help is coming once its receipt arrives,
//! and the receipt is sent once the alarm is committed: the service says
//! whether Redis writes that commit to disk before answering.

use std::time::Duration;

use vangnet_e2e::{AppOptions, RedisServer, TestApp, eventually};

#[tokio::test]
async fn a_redis_that_writes_every_commit_to_disk_is_reported_durable() {
    let redis = RedisServer::start();
    let app = TestApp::spawn_with(AppOptions::default().env("VANGNET_STORE", redis.url())).await;
    app.wait_until_ready().await;

    eventually(Duration::from_secs(10), "durability reported", || async {
        app.metric("vangnet_store_fsync_every_commit").await == 1.0
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_redis_that_may_lose_the_last_second_is_reported_not_durable() {
    let redis = RedisServer::start();
    let mut admin = redis::Client::open(redis.url())
        .and_then(|client| client.get_connection())
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendfsync")
        .arg("everysec")
        .query(&mut admin)
        .unwrap();
    let app = TestApp::spawn_with(AppOptions::default().env("VANGNET_STORE", redis.url())).await;
    app.wait_until_ready().await;

    eventually(Duration::from_secs(10), "durability reported", || async {
        let text = app.get("/metrics").await.text().await.unwrap_or_default();
        text.lines()
            .any(|line| line == "vangnet_store_fsync_every_commit 0")
    })
    .await
    .unwrap();
}
