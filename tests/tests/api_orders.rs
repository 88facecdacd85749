//! The order endpoints (docs/api.md#orders) and the authentication in front of
//! them: every 401 and 403 case, validation naming the field, nothing
//! half-stored, and an order created here being evaluated.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use vangnet_e2e::{
    AppOptions, TestApp, alg_none_token, claims, epoch_seconds, eventually, hs256_token,
    token_without_exp, unique_name,
};
use vangnet_proto::token::{Role, sign_hs256};
use vangnet_proto::{Channel, OrderId, TimestampMs};
use vangnet_server::store::{PartitionKey, PartitionStore};

const SECRET: &str = vangnet_proto::token::DEVELOPMENT_JWT_SECRET;

fn token(role: Role) -> String {
    sign_hs256(SECRET.as_bytes(), &claims(role, 3600)).unwrap()
}

fn order(id: &str, exercise: bool) -> Value {
    json!({
        "id": id, "region": "rotterdam", "exercise": exercise,
        "victim_devices": [format!("{id}-v")], "perpetrator_devices": [format!("{id}-p")],
        "proximity": {"alarm_m": 1000, "prealarm_m": 2000},
        "zones": [{"id": "work", "geometry": {"type": "Polygon", "coordinates": [[[4.46,51.91],[4.47,51.91],[4.47,51.92],[4.46,51.92],[4.46,51.91]]]}, "prealarm_m": 500}]
    })
}

async fn app() -> TestApp {
    TestApp::spawn_with(AppOptions::default().env("VANGNET_JWT_SECRET", SECRET)).await
}

async fn post(app: &TestApp, token: Option<&str>, body: &Value) -> (u16, Value) {
    app.call(reqwest::Method::POST, "/api/v1/orders", token, Some(body))
        .await
}

/// An order of `victims` and `perpetrators`, real or exercise.
fn order_of(id: &str, exercise: bool, victims: &[&str], perpetrators: &[&str]) -> Value {
    json!({
        "id": id, "region": "rotterdam", "exercise": exercise,
        "victim_devices": victims, "perpetrator_devices": perpetrators,
        "proximity": {"alarm_m": 1000, "prealarm_m": 2000}, "zones": []
    })
}

async fn put(app: &TestApp, token: &str, body: &Value) -> (u16, Value) {
    let path = format!("/api/v1/orders/{}", body["id"].as_str().unwrap());
    app.call(reqwest::Method::PUT, &path, Some(token), Some(body))
        .await
}

/// Asserts a 409 whose error names `field`.
fn assert_conflict_naming(answer: &(u16, Value), field: &str) {
    let (status, body) = answer;
    assert_eq!(*status, 409, "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(error.contains(field), "{body}");
}

async fn get(app: &TestApp, token: &str, id: &str) -> u16 {
    let url = app.url(&format!("/api/v1/orders/{id}"));
    let response = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

#[tokio::test]
async fn an_admin_creates_an_order_and_gets_201_with_it() {
    let app = app().await;
    let (status, body) = post(&app, Some(&token(Role::Admin)), &order("api-1", false)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["id"], "api-1");
    assert_eq!(get(&app, &token(Role::Admin), "api-1").await, 200);
}

#[tokio::test]
async fn an_order_without_id_gets_one_assigned() {
    let app = app().await;
    let mut body = order("x", false);
    body.as_object_mut().unwrap().remove("id");
    let (status, created) = post(&app, Some(&token(Role::Admin)), &body).await;
    assert_eq!(status, 201);
    assert!(created["id"].as_str().is_some_and(|id| !id.is_empty()));
}

#[tokio::test]
async fn an_existing_id_gets_409() {
    let app = app().await;
    let admin = token(Role::Admin);
    post(&app, Some(&admin), &order("api-dup", false)).await;
    let (status, _) = post(&app, Some(&admin), &order("api-dup", false)).await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn a_missing_token_gets_401() {
    let app = app().await;
    assert_eq!(post(&app, None, &order("a", false)).await.0, 401);
}

#[tokio::test]
async fn an_expired_token_gets_401_beyond_the_30_s_leeway() {
    let app = app().await;
    let expired = sign_hs256(SECRET.as_bytes(), &claims(Role::Admin, -60)).unwrap();
    assert_eq!(post(&app, Some(&expired), &order("a", false)).await.0, 401);
    let within_leeway = sign_hs256(SECRET.as_bytes(), &claims(Role::Admin, -10)).unwrap();
    assert_eq!(
        post(&app, Some(&within_leeway), &order("b", false)).await.0,
        201
    );
}

#[tokio::test]
async fn a_token_signed_with_another_key_gets_401() {
    let app = app().await;
    let forged = sign_hs256(
        b"another-secret-of-at-least-32-bytes",
        &claims(Role::Admin, 3600),
    )
    .unwrap();
    assert_eq!(post(&app, Some(&forged), &order("a", false)).await.0, 401);
}

#[tokio::test]
async fn an_alg_none_token_gets_401() {
    let app = app().await;
    let unsigned = alg_none_token(&claims(Role::Admin, 3600));
    assert_eq!(post(&app, Some(&unsigned), &order("a", false)).await.0, 401);
}

#[tokio::test]
async fn a_token_without_exp_gets_401() {
    let app = app().await;
    let no_exp = token_without_exp(SECRET);
    assert_eq!(post(&app, Some(&no_exp), &order("a", false)).await.0, 401);
}

#[tokio::test]
async fn with_an_es256_key_only_es256_tokens_pass_and_hs256_with_the_public_key_gets_401() {
    let dir = std::env::temp_dir().join(unique_name("keys"));
    let (private, public) = es256_key_pair(&dir, "k");
    let app = TestApp::spawn_with(
        AppOptions::default().env("VANGNET_JWT_PUBLIC_KEY", public.to_str().unwrap()),
    )
    .await;

    let public_pem = std::fs::read(&public).unwrap();
    let confused = sign_hs256(&public_pem, &claims(Role::Admin, 3600)).unwrap();
    assert_eq!(post(&app, Some(&confused), &order("a", false)).await.0, 401);
    assert_eq!(
        app.metric("vangnet_api_auth_failures_total{reason=\"wrong_algorithm\"}")
            .await,
        1.0
    );

    let valid = es256_token(&private, None);
    assert_eq!(post(&app, Some(&valid), &order("b", false)).await.0, 201);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn with_a_jwks_file_a_token_passes_only_with_the_key_its_kid_names() {
    let dir = std::env::temp_dir().join(unique_name("jwks"));
    let (first, _) = es256_key_pair(&dir, "first");
    let (second, _) = es256_key_pair(&dir, "second");
    let jwk = |private: &std::path::Path, kid: &str| {
        let key = EncodingKey::from_ec_pem(&std::fs::read(private).unwrap()).unwrap();
        let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        jwk
    };
    let jwks = dir.join("jwks.json");
    let set = json!({"keys": [jwk(&first, "k1"), jwk(&second, "k2")]});
    std::fs::write(&jwks, set.to_string()).unwrap();
    let app = TestApp::spawn_with(
        AppOptions::default().env("VANGNET_JWT_PUBLIC_KEY", jwks.to_str().unwrap()),
    )
    .await;

    let named = es256_token(&second, Some("k2"));
    assert_eq!(post(&app, Some(&named), &order("a", false)).await.0, 201);
    for (token, what) in [
        (
            es256_token(&second, Some("k1")),
            "signed with another key than its kid",
        ),
        (es256_token(&second, Some("k9")), "an unknown kid"),
        (es256_token(&second, None), "no kid"),
    ] {
        assert_eq!(
            post(&app, Some(&token), &order("b", false)).await.0,
            401,
            "{what}"
        );
    }
    let mut confused_header = Header::new(Algorithm::HS256);
    confused_header.kid = Some("k1".into());
    let secret = EncodingKey::from_secret(&std::fs::read(&jwks).unwrap()).unwrap();
    let confused =
        jsonwebtoken::encode(&confused_header, &claims(Role::Admin, 3600), &secret).unwrap();
    assert_eq!(post(&app, Some(&confused), &order("c", false)).await.0, 401);
    let counted = |reason: &'static str| {
        let app = &app;
        async move {
            app.metric(&format!(
                "vangnet_api_auth_failures_total{{reason=\"{reason}\"}}"
            ))
            .await
        }
    };
    assert_eq!(counted("unknown_key").await, 2.0, "k9 and no kid");
    assert_eq!(
        counted("bad_signature").await,
        1.0,
        "signed with k2, named k1"
    );
    assert_eq!(counted("wrong_algorithm").await, 1.0, "HS256 with the JWKS");
    let _ = std::fs::remove_dir_all(dir);
}

/// A P-256 key pair made with openssl in `dir`: the PKCS#8 private key and the public key PEM.
fn es256_key_pair(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let (ec, private, public) = (
        dir.join(format!("{name}-ec.pem")),
        dir.join(format!("{name}-pk8.pem")),
        dir.join(format!("{name}-public.pem")),
    );
    let openssl = |args: &[&std::ffi::OsStr]| {
        let status = std::process::Command::new("openssl")
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "openssl {args:?}");
    };
    let arg = |text: &'static str| std::ffi::OsStr::new(text);
    openssl(&[
        arg("ecparam"),
        arg("-name"),
        arg("prime256v1"),
        arg("-genkey"),
        arg("-noout"),
        arg("-out"),
        ec.as_os_str(),
    ]);
    openssl(&[
        arg("pkcs8"),
        arg("-topk8"),
        arg("-nocrypt"),
        arg("-in"),
        ec.as_os_str(),
        arg("-out"),
        private.as_os_str(),
    ]);
    openssl(&[
        arg("ec"),
        arg("-in"),
        ec.as_os_str(),
        arg("-pubout"),
        arg("-out"),
        public.as_os_str(),
    ]);
    (private, public)
}

/// An admin token signed with the PKCS#8 key at `private`, with `kid` in its header.
fn es256_token(private: &std::path::Path, kid: Option<&str>) -> String {
    let key = EncodingKey::from_ec_pem(&std::fs::read(private).unwrap()).unwrap();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, &claims(Role::Admin, 3600), &key).unwrap()
}

#[tokio::test]
async fn a_dispatcher_creating_an_order_gets_403() {
    let app = app().await;
    assert_eq!(
        post(&app, Some(&token(Role::Dispatcher)), &order("a", false))
            .await
            .0,
        403
    );
}

#[tokio::test]
async fn an_auditor_reading_an_order_gets_403() {
    let app = app().await;
    post(&app, Some(&token(Role::Admin)), &order("api-r", false)).await;
    assert_eq!(get(&app, &token(Role::Auditor), "api-r").await, 403);
}

#[tokio::test]
async fn a_pilot_creates_exercise_orders_but_gets_403_for_a_real_one() {
    let app = app().await;
    let pilot = token(Role::Pilot);
    assert_eq!(post(&app, Some(&pilot), &order("real", false)).await.0, 403);
    assert_eq!(post(&app, Some(&pilot), &order("drill", true)).await.0, 201);
    post(&app, Some(&token(Role::Admin)), &order("real-2", false)).await;
    assert_eq!(get(&app, &pilot, "real-2").await, 403);
}

#[tokio::test]
async fn an_invalid_order_gets_422_naming_the_field_and_nothing_is_stored() {
    let app = app().await;
    let admin = token(Role::Admin);
    let mut body = order("bad-1", false);
    body["proximity"]["prealarm_m"] = json!(500);
    let (status, error) = post(&app, Some(&admin), &body).await;
    assert_eq!(status, 422, "{error}");
    assert!(
        error["error"].as_str().unwrap().contains("prealarm_m"),
        "{error}"
    );
    assert_eq!(get(&app, &admin, "bad-1").await, 404);
}

#[tokio::test]
async fn a_malformed_order_gets_400_naming_the_field() {
    let app = app().await;
    let mut body = order("bad-2", false);
    body["proximity"]["alarm_m"] = json!("far");
    let (status, error) = post(&app, Some(&token(Role::Admin)), &body).await;
    assert_eq!(status, 400, "{error}");
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("proximity.alarm_m"),
        "{error}"
    );
}

#[tokio::test]
async fn an_order_created_through_the_api_is_evaluated_and_ending_it_keeps_its_open_alerts() {
    let app = app().await;
    app.wait_until_ready().await;
    let admin = token(Role::Admin);
    post(&app, Some(&admin), &order("live", false)).await;
    let mut victim = app.device("live-v").await;
    let panic = json!({"seq": 1, "ts": TimestampMs::now(), "kind": "panic"}).to_string();
    victim.send(Channel::Alarm, panic).await;
    let ack = victim
        .next_downlink(Duration::from_secs(5))
        .await
        .expect("an ack")
        .json();
    let alert_id = ack["alert_ids"][0].as_str().unwrap().to_owned();

    let url = app.url("/api/v1/orders/live");
    let response = reqwest::Client::new()
        .delete(url)
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);

    use vangnet_server::store::PartitionStore;
    let alert = app
        .store()
        .alert(&vangnet_proto::AlertId::new(alert_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(serde_json::to_value(alert.current.status).unwrap(), "open");
    assert_eq!(get(&app, &admin, "live").await, 404);
}

#[tokio::test]
async fn an_unknown_warn_perpetrator_gets_400_naming_the_field_and_a_known_one_is_kept() {
    let app = app().await;
    let admin = token(Role::Admin);
    let mut body = order("warn-1", false);
    body["warn_perpetrator"] = json!("proximity");
    let (status, error) = post(&app, Some(&admin), &body).await;
    assert_eq!(status, 400, "{error}");
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("warn_perpetrator"),
        "{error}"
    );
    assert_eq!(get(&app, &admin, "warn-1").await, 404);
    body["warn_perpetrator"] = json!("all");
    let (status, created) = post(&app, Some(&admin), &body).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["warn_perpetrator"], "all");
}

#[tokio::test]
async fn a_token_valid_before_an_hour_from_now_gets_401_and_one_valid_since_a_while_passes() {
    let app = app().await;
    let now = epoch_seconds();
    let with_nbf = |nbf: i64| {
        hs256_token(
            SECRET,
            &json!({"sub": "t", "role": "admin", "regions": ["*"], "nbf": nbf, "exp": now + 7200}),
        )
    };
    let early = with_nbf(now + 3600);
    assert_eq!(
        post(&app, Some(&early), &order("nbf-1", false)).await.0,
        401
    );
    let valid = with_nbf(now - 60);
    assert_eq!(
        post(&app, Some(&valid), &order("nbf-2", false)).await.0,
        201
    );
}

#[tokio::test]
async fn with_an_audience_set_aud_passes_as_a_string_or_a_list_that_holds_it() {
    let app = TestApp::spawn_with(
        AppOptions::default()
            .env("VANGNET_JWT_SECRET", SECRET)
            .env("VANGNET_JWT_AUDIENCE", "vangnet-api"),
    )
    .await;
    let with_aud = |aud: Value| {
        let mut claims =
            json!({"sub": "t", "role": "admin", "regions": ["*"], "exp": epoch_seconds() + 3600});
        if !aud.is_null() {
            claims["aud"] = aud;
        }
        hs256_token(SECRET, &claims)
    };
    let cases = [
        ("aud-1", json!("vangnet-api"), 201),
        ("aud-2", json!(["portal", "vangnet-api"]), 201),
        ("aud-3", json!(["portal"]), 401),
        ("aud-4", json!("portal"), 401),
        ("aud-5", Value::Null, 401),
    ];
    for (id, aud, expected) in cases {
        let token = with_aud(aud.clone());
        assert_eq!(
            post(&app, Some(&token), &order(id, false)).await.0,
            expected,
            "aud {aud}"
        );
    }
}

#[tokio::test]
async fn with_an_issuer_set_a_token_without_iss_gets_401() {
    let app = TestApp::spawn_with(
        AppOptions::default()
            .env("VANGNET_JWT_SECRET", SECRET)
            .env("VANGNET_JWT_ISSUER", "vangnet-idp"),
    )
    .await;
    let mut claims =
        json!({"sub": "t", "role": "admin", "regions": ["*"], "exp": epoch_seconds() + 3600});
    let without = hs256_token(SECRET, &claims);
    assert_eq!(
        post(&app, Some(&without), &order("iss-1", false)).await.0,
        401
    );
    claims["iss"] = json!("vangnet-idp");
    let with = hs256_token(SECRET, &claims);
    assert_eq!(post(&app, Some(&with), &order("iss-2", false)).await.0, 201);
}

#[tokio::test]
async fn an_exercise_order_naming_a_device_of_a_real_order_gets_409_and_is_not_stored() {
    let app = app().await;
    let admin = token(Role::Admin);
    let real = order_of("mix-real", false, &["mix-v"], &["mix-p"]);
    assert_eq!(post(&app, Some(&admin), &real).await.0, 201);
    let drill = order_of("mix-drill", true, &["drill-v"], &["mix-p"]);
    let answer = post(&app, Some(&token(Role::Pilot)), &drill).await;
    assert_conflict_naming(&answer, "perpetrator_devices[0]");
    assert_eq!(get(&app, &admin, "mix-drill").await, 404);
}

#[tokio::test]
async fn a_real_order_naming_a_device_of_an_exercise_order_gets_409_and_is_not_stored() {
    let app = app().await;
    let admin = token(Role::Admin);
    let drill = order_of("mix-drill", true, &["mix-v"], &["mix-p"]);
    assert_eq!(post(&app, Some(&admin), &drill).await.0, 201);
    let real = order_of("mix-real", false, &["other-v", "mix-v"], &["other-p"]);
    let answer = post(&app, Some(&admin), &real).await;
    assert_conflict_naming(&answer, "victim_devices[1]");
    assert_eq!(get(&app, &admin, "mix-real").await, 404);
}

#[tokio::test]
async fn replacing_an_exercise_order_with_a_device_of_a_real_order_gets_409_and_keeps_the_old_one()
{
    let app = app().await;
    let admin = token(Role::Admin);
    let pilot = token(Role::Pilot);
    let real = order_of("put-real", false, &["real-v"], &["real-p"]);
    let drill = order_of("put-drill", true, &["drill-v"], &["drill-p"]);
    assert_eq!(post(&app, Some(&admin), &real).await.0, 201);
    assert_eq!(post(&app, Some(&pilot), &drill).await.0, 201);
    let mixed = order_of("put-drill", true, &["drill-v"], &["real-p"]);
    assert_conflict_naming(&put(&app, &pilot, &mixed).await, "perpetrator_devices[0]");
    let (status, kept) = app
        .call(
            reqwest::Method::GET,
            "/api/v1/orders/put-drill",
            Some(&pilot),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(kept["perpetrator_devices"], json!(["drill-p"]));
}

#[tokio::test]
async fn an_order_replaced_by_a_version_of_the_other_kind_does_not_clash_with_itself() {
    let app = app().await;
    let admin = token(Role::Admin);
    let real = order_of("flip", false, &["flip-v"], &["flip-p"]);
    assert_eq!(post(&app, Some(&admin), &real).await.0, 201);
    let drill = order_of("flip", true, &["flip-v"], &["flip-p"]);
    assert_eq!(put(&app, &admin, &drill).await.0, 200);
}

#[tokio::test]
async fn a_device_of_an_ended_real_order_may_join_an_exercise_order() {
    let app = app().await;
    let admin = token(Role::Admin);
    let real = order_of("ended", false, &["ended-v"], &["ended-p"]);
    assert_eq!(post(&app, Some(&admin), &real).await.0, 201);
    let (status, _) = app
        .call(
            reqwest::Method::DELETE,
            "/api/v1/orders/ended",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let drill = order_of("after", true, &["ended-v"], &["ended-p"]);
    assert_eq!(post(&app, Some(&admin), &drill).await.0, 201);
}

#[tokio::test]
async fn one_order_beyond_the_cap_on_a_device_gets_409_naming_the_device_field_and_is_not_stored() {
    let app = TestApp::spawn_with(
        AppOptions::default()
            .env("VANGNET_JWT_SECRET", SECRET)
            .env("VANGNET_MAX_ORDERS_PER_DEVICE", "2"),
    )
    .await;
    let admin = token(Role::Admin);
    for id in ["cap-1", "cap-2"] {
        let body = order_of(id, false, &[&format!("{id}-v")], &["cap-p"]);
        assert_eq!(post(&app, Some(&admin), &body).await.0, 201);
    }
    let third = order_of("cap-3", false, &["cap-3-v"], &["cap-p"]);
    assert_conflict_naming(
        &post(&app, Some(&admin), &third).await,
        "perpetrator_devices[0]",
    );
    assert_eq!(get(&app, &admin, "cap-3").await, 404);
    let again = order_of("cap-2", false, &["cap-2-v", "cap-2-w"], &["cap-p"]);
    assert_eq!(put(&app, &admin, &again).await.0, 200);
}

#[tokio::test]
async fn two_instances_racing_never_store_a_real_and_an_exercise_order_of_one_device() {
    let first = app().await;
    let second = TestApp::spawn_with(
        AppOptions::default()
            .env("VANGNET_JWT_SECRET", SECRET)
            .same_deployment_as(&first),
    )
    .await;
    let admin = token(Role::Admin);
    for round in 0..10 {
        let device = format!("race-{round}");
        let (real_victim, drill_victim) = (format!("rv-{round}"), format!("dv-{round}"));
        let real = order_of(&format!("real-{round}"), false, &[&real_victim], &[&device]);
        let drill = order_of(
            &format!("drill-{round}"),
            true,
            &[&drill_victim],
            &[&device],
        );
        let (a, b) = tokio::join!(
            post(&first, Some(&admin), &real),
            post(&second, Some(&admin), &drill)
        );
        let mut statuses = [a.0, b.0];
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 409], "round {round}: {a:?} {b:?}");
    }
}

#[tokio::test]
async fn many_orders_created_at_once_on_one_instance_are_all_stored() {
    let app = app().await;
    let mut posts = tokio::task::JoinSet::new();
    for i in 0..30 {
        let request = reqwest::Client::new()
            .post(app.url("/api/v1/orders"))
            .bearer_auth(token(Role::Admin))
            .json(&order(&format!("burst-{i}"), false));
        posts.spawn(async move { request.send().await.unwrap().status().as_u16() });
    }
    while let Some(status) = posts.join_next().await {
        assert_eq!(status.unwrap(), 201);
    }
}

/// The `work` zone of [`order`] as a GeoJSON polygon.
fn work_polygon() -> Value {
    json!({"type": "Polygon", "coordinates": [[[4.46,51.91],[4.47,51.91],[4.47,51.92],[4.46,51.92],[4.46,51.91]]]})
}

/// A GeoJSON FeatureCollection of `features`, each `(geometry, properties)`.
fn feature_collection(features: &[(Value, Value)]) -> Value {
    let features: Vec<Value> = features
        .iter()
        .map(|(geometry, properties)| {
            json!({"type": "Feature", "geometry": geometry, "properties": properties})
        })
        .collect();
    json!({"type": "FeatureCollection", "features": features})
}

/// [`order`] with its `work` zone given as a one-feature FeatureCollection.
fn order_with_features(id: &str) -> Value {
    let mut body = order(id, false);
    body["zones"] =
        feature_collection(&[(work_polygon(), json!({"id": "work", "prealarm_m": 500.0}))]);
    body
}

/// Asserts a 422 whose error starts with `field`, and that nothing was stored under `id`.
async fn assert_invalid_naming(app: &TestApp, answer: &(u16, Value), field: &str, id: &str) {
    let (status, body) = answer;
    assert_eq!(*status, 422, "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(error.starts_with(&format!("{field}: ")), "{body}");
    assert_eq!(get(app, &token(Role::Admin), id).await, 404);
}

async fn zone_alarm_of(app: &TestApp, order: &str) -> Option<Value> {
    let partition = PartitionKey::Order(OrderId::new(order));
    let alerts = app.store().alerts(&partition).await.unwrap();
    alerts
        .iter()
        .map(|alert| serde_json::to_value(alert).unwrap())
        .find(|alert| alert["kind"] == "zone_alarm")
}

#[tokio::test]
async fn an_order_with_feature_collection_zones_is_evaluated_like_one_with_the_zone_array() {
    let app = app().await;
    app.wait_until_ready().await;
    let admin = token(Role::Admin);
    assert_eq!(post(&app, Some(&admin), &order("list", false)).await.0, 201);
    let (status, created) = post(&app, Some(&admin), &order_with_features("gis")).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["zones"], order_with_features("gis")["zones"]);
    eventually(Duration::from_secs(10), "both orders loaded", || async {
        app.metric("vangnet_orders").await >= 2.0
    })
    .await
    .unwrap();

    let inside_work =
        json!({"seq": 1, "ts": TimestampMs::now(), "lat": 51.915, "lon": 4.465, "acc": 5.0});
    for id in ["list", "gis"] {
        let perpetrator = app.device(&format!("{id}-p")).await;
        perpetrator
            .send(Channel::Loc, inside_work.to_string())
            .await;
    }
    let mut alarms = Vec::new();
    for id in ["list", "gis"] {
        eventually(Duration::from_secs(5), "a zone alarm", || async {
            zone_alarm_of(&app, id).await.is_some()
        })
        .await
        .unwrap();
        alarms.extend(zone_alarm_of(&app, id).await);
    }
    for alarm in &alarms {
        assert_eq!(alarm["zone"], "work", "{alarm}");
    }
    assert_eq!(alarms[0]["priority"], alarms[1]["priority"]);
    assert_eq!(alarms[0]["distance_m"], alarms[1]["distance_m"]);
}

#[tokio::test]
async fn a_feature_collection_is_read_back_as_a_feature_collection() {
    let app = app().await;
    let admin = token(Role::Admin);
    assert_eq!(
        post(&app, Some(&admin), &order_with_features("gis"))
            .await
            .0,
        201
    );
    let (status, read) = app
        .call(
            reqwest::Method::GET,
            "/api/v1/orders/gis",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["zones"], order_with_features("gis")["zones"]);
}

#[tokio::test]
async fn a_self_intersecting_feature_gets_422_naming_the_feature_and_position() {
    let app = app().await;
    let bow_tie = json!({"type": "Polygon", "coordinates": [[[4.46,51.91],[4.48,51.93],[4.48,51.91],[4.46,51.92],[4.46,51.91]]]});
    let mut body = order("bow-tie", false);
    body["zones"] = feature_collection(&[
        (work_polygon(), json!({"id": "work", "prealarm_m": 500})),
        (bow_tie, json!({"id": "park", "prealarm_m": 500})),
    ]);
    let answer = post(&app, Some(&token(Role::Admin)), &body).await;
    assert_invalid_naming(
        &app,
        &answer,
        "zones.features[1].geometry.coordinates[0][0]",
        "bow-tie",
    )
    .await;
}

#[tokio::test]
async fn a_point_feature_without_radius_m_gets_422_naming_its_properties() {
    let app = app().await;
    let mut body = order("no-radius", false);
    body["zones"] = feature_collection(&[(
        json!({"type": "Point", "coordinates": [4.4792, 51.9225]}),
        json!({"id": "home", "prealarm_m": 750}),
    )]);
    let answer = post(&app, Some(&token(Role::Admin)), &body).await;
    assert_invalid_naming(
        &app,
        &answer,
        "zones.features[0].properties.radius_m",
        "no-radius",
    )
    .await;
}

#[tokio::test]
async fn a_feature_without_geometry_gets_400_naming_the_feature() {
    let app = app().await;
    let mut body = order_with_features("no-geometry");
    body["zones"]["features"][0]["geometry"] = Value::Null;
    let (status, error) = post(&app, Some(&token(Role::Admin)), &body).await;
    assert_eq!(status, 400, "{error}");
    let error = error["error"].as_str().unwrap();
    assert!(error.starts_with("zones.features[0].geometry: "), "{error}");
}

#[tokio::test]
async fn a_feature_collection_of_more_than_64_zones_gets_422_and_one_over_1_mib_gets_413() {
    let app = app().await;
    let admin = token(Role::Admin);
    let points = |n: usize| {
        let features: Vec<(Value, Value)> = (0..n)
            .map(|i| {
                let geometry =
                    json!({"type": "Point", "coordinates": [4.0 + i as f64 * 1e-5, 52.0]});
                (
                    geometry,
                    json!({"id": format!("z{i}"), "radius_m": 1, "prealarm_m": 1}),
                )
            })
            .collect();
        feature_collection(&features)
    };
    let mut body = order("many", false);
    body["zones"] = points(64);
    assert_eq!(post(&app, Some(&admin), &body).await.0, 201);
    body["zones"] = points(65);
    let answer = put(&app, &admin, &body).await;
    assert_eq!(answer.0, 422, "{}", answer.1);
    assert_eq!(answer.1["error"], "zones.features: more than 64 zones");
    body["id"] = json!("flood");
    body["zones"] = points(10_000);
    assert_eq!(post(&app, Some(&admin), &body).await.0, 413);
    assert_eq!(get(&app, &admin, "flood").await, 404);
}

#[tokio::test]
async fn replacing_zones_with_a_feature_collection_keeps_that_form() {
    let app = app().await;
    let admin = token(Role::Admin);
    assert_eq!(post(&app, Some(&admin), &order("swap", false)).await.0, 201);
    let (status, replaced) = put(&app, &admin, &order_with_features("swap")).await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["zones"]["type"], "FeatureCollection");
}
