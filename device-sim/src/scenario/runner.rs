//! Playing a scenario against a running Vangnet: creating its orders over
//! HTTP, publishing its devices' messages over MQTT on the scenario clock, and
//! collecting the alert revisions of the stream and of the dispatch sink.
//!
//! Every order and device id gets a suffix of this run (`.{tag}`), so runs
//! never meet each other's state on a shared deployment; reports use the
//! scenario's own names.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use anyhow::{Context, bail};
use rumqttc::{AsyncClient, Packet, QoS};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use vangnet_proto::token::{Claims, Role, sign_hs256};
use vangnet_proto::{Channel, DeviceId, DispatchBody, TimestampMs, Topics};

use super::clock::Clock;
use super::downlinks::overshares;
use super::receipts::{REPEAT_AFTER, Unreceipted, parse_receipt};
use super::report::Seen;
use super::schedule::Message;
use crate::broker;
use crate::retry::send_retrying_429;

/// Where Vangnet is and how to speak to it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Base URL of the HTTP API.
    pub api_url: String,
    /// The MQTT broker.
    pub mqtt_url: String,
    /// Vangnet's topic root.
    pub mqtt_prefix: String,
    /// The credentials.
    pub tokens: Tokens,
}

/// API tokens: given, or signed with the deployment's HS256 secret.
#[derive(Debug, Clone)]
pub enum Tokens {
    /// Tokens given on the command line.
    Given {
        /// For creating orders (pilot: exercise only; admin: any).
        orders: String,
        /// For the alert stream (dispatcher or admin).
        stream: String,
    },
    /// Signed here: pilot for exercise orders, admin for real ones and the stream.
    Signed(String),
}

impl Tokens {
    fn for_order(&self, exercise: bool) -> anyhow::Result<String> {
        match self {
            Self::Given { orders, .. } => Ok(orders.clone()),
            Self::Signed(secret) if exercise => sign(secret, Role::Pilot),
            Self::Signed(secret) => sign(secret, Role::Admin),
        }
    }

    fn for_stream(&self) -> anyhow::Result<String> {
        match self {
            Self::Given { stream, .. } => Ok(stream.clone()),
            Self::Signed(secret) => sign(secret, Role::Admin),
        }
    }
}

fn sign(secret: &str, role: Role) -> anyhow::Result<String> {
    let claims = Claims {
        sub: format!("vangnet-sim-{role:?}").to_lowercase(),
        role,
        regions: vec!["*".into()],
        exp: TimestampMs::now().millis() / 1000 + 24 * 3600,
        iss: None,
        aud: None,
    };
    sign_hs256(secret.as_bytes(), &claims).context("signing a token")
}

/// The run's suffix on every id.
#[derive(Debug, Clone)]
pub struct Names {
    tag: String,
}

impl Names {
    /// A fresh random suffix.
    pub fn fresh() -> Self {
        Self {
            tag: format!("{:06x}", fastrand::u32(..0x100_0000)),
        }
    }

    /// The id Vangnet sees for the scenario's `name`.
    pub fn real(&self, name: &str) -> String {
        format!("{name}.{}", self.tag)
    }

    /// The scenario's name for an id Vangnet used, if it is one of this run's.
    pub fn scenario(&self, real: &str) -> Option<String> {
        real.strip_suffix(&format!(".{}", self.tag))
            .map(str::to_owned)
    }

    /// An order body (JSON) with its ids renamed for this run.
    fn rename_order(&self, body: &Value) -> Value {
        let mut body = body.clone();
        let rename = |v: &mut Value| {
            if let Some(name) = v.as_str() {
                *v = json!(self.real(name));
            }
        };
        if let Some(id) = body.get_mut("id") {
            rename(id);
        }
        for side in ["victim_devices", "perpetrator_devices"] {
            if let Some(Value::Array(devices)) = body.get_mut(side) {
                devices.iter_mut().for_each(rename);
            }
        }
        body
    }
}

/// A connection to Vangnet for one run.
pub struct Session {
    endpoint: Endpoint,
    names: Names,
    http: reqwest::Client,
}

impl Session {
    /// A session with fresh names.
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            names: Names::fresh(),
            http: reqwest::Client::new(),
        }
    }

    /// Opens the alert stream; call before anything is published.
    pub async fn listen(&self) -> anyhow::Result<mpsc::UnboundedReceiver<(Instant, DispatchBody)>> {
        let token = self.endpoint.tokens.for_stream()?;
        super::stream::listen(&self.http, &self.endpoint.api_url, &token, false).await
    }

    /// Creates `orders` (order bodies, docs/api.md#orders) through `POST /api/v1/orders`.
    pub async fn create_orders(&self, orders: &[Value]) -> anyhow::Result<()> {
        for order in orders {
            let exercise = order["exercise"].as_bool().unwrap_or(false);
            let token = self.endpoint.tokens.for_order(exercise)?;
            let url = format!("{}/api/v1/orders", self.endpoint.api_url);
            let body = self.names.rename_order(order);
            let request = self.http.post(&url).bearer_auth(&token).json(&body);
            let response = send_retrying_429(request)
                .await
                .context("POST /api/v1/orders")?;
            let status = response.status();
            if !status.is_success() {
                let text = response.text().await.unwrap_or_default();
                bail!("creating order {}: {status} {text}", order["id"]);
            }
        }
        Ok(())
    }

    /// Publishes `messages` on the scenario `clock`, then waits for its end.
    /// Like a real device, each alarm is sent again until its receipt arrives.
    pub async fn play(&self, messages: Vec<Message>, clock: &Clock) -> anyhow::Result<()> {
        let topics = Topics::new(&self.endpoint.mqtt_prefix)
            .map_err(|_| anyhow::anyhow!("bad MQTT prefix {}", self.endpoint.mqtt_prefix))?;
        let client_id = format!("vangnet-sim-{}", self.names.tag);
        let unreceipted = Arc::new(Mutex::new(Unreceipted::default()));
        let downlinks = [
            format!("{}/devices/+/ack", topics.prefix()),
            format!("{}/devices/+/cmd", topics.prefix()),
        ];
        let overshared = Arc::new(Mutex::new(Vec::new()));
        let on_downlink = {
            let (unreceipted, prefix) = (unreceipted.clone(), topics.prefix().to_owned());
            let overshared = overshared.clone();
            move |packet: &Packet| {
                let Packet::Publish(publish) = packet else {
                    return;
                };
                if let Some(why) = overshares(&publish.topic, &publish.payload) {
                    overshared
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(why);
                }
                if let Some((device, seq)) =
                    parse_receipt(&prefix, &publish.topic, &publish.payload)
                {
                    lock(&unreceipted).receipt(&device, seq);
                }
            }
        };
        let client =
            broker::connect(&self.endpoint.mqtt_url, &client_id, &downlinks, on_downlink).await?;
        let repeating = tokio::spawn(repeat_unreceipted(client.clone(), unreceipted.clone()));
        let mut seq: HashMap<String, u64> = HashMap::new();
        for Message {
            t,
            device,
            channel,
            mut body,
        } in messages
        {
            tokio::time::sleep_until(clock.instant(t).into()).await;
            let counter = seq.entry(device.clone()).or_default();
            *counter += 1;
            body.insert("seq".into(), json!(*counter));
            body.insert("ts".into(), json!(clock.device_ts(t).millis()));
            let id = DeviceId::parse(&self.names.real(&device), "device")
                .with_context(|| format!("device id {device}"))?;
            let topic = topics.uplink(&id, channel);
            let payload = serde_json::to_vec(&body)?;
            if channel == Channel::Alarm {
                lock(&unreceipted).sent(
                    id.as_str(),
                    *counter,
                    topic.clone(),
                    payload.clone(),
                    Instant::now(),
                );
            }
            client
                .publish(topic, QoS::AtLeastOnce, false, payload)
                .await
                .context("MQTT publish")?;
        }
        tokio::time::sleep_until(clock.end().into()).await;
        repeating.abort();
        client.disconnect().await.context("MQTT disconnect")?;
        let overshared = overshared.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(first) = overshared.first() {
            bail!(
                "{} device messages said more than the contract allows; the first: {first}",
                overshared.len()
            );
        }
        Ok(())
    }

    /// This run's revisions among those received, on the scenario clock; `exercise` tells each order's flag.
    pub fn collect(
        &self,
        received: &mut mpsc::UnboundedReceiver<(Instant, DispatchBody)>,
        clock: &Clock,
        exercise: &HashMap<String, bool>,
    ) -> Vec<Seen> {
        let mut seen = Vec::new();
        while let Ok((at, body)) = received.try_recv() {
            let order = body
                .order_id
                .as_ref()
                .and_then(|id| self.names.scenario(id.as_str()));
            let ours = order.is_some()
                || [&body.victim, &body.perpetrator]
                    .into_iter()
                    .flatten()
                    .any(|party| self.names.scenario(party.device.as_str()).is_some());
            if ours {
                seen.push(Seen {
                    t: clock.scenario_time(at),
                    order_exercise: order.as_ref().and_then(|o| exercise.get(o).copied()),
                    order,
                    body,
                });
            }
        }
        seen
    }
}

/// Sends the alarms still without a receipt again, until aborted.
async fn repeat_unreceipted(client: AsyncClient, unreceipted: Arc<Mutex<Unreceipted>>) {
    let mut ticks = tokio::time::interval(REPEAT_AFTER / 4);
    loop {
        ticks.tick().await;
        let due = lock(&unreceipted).due(Instant::now());
        for (topic, payload) in due {
            if client
                .publish(topic, QoS::AtLeastOnce, false, payload)
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

fn lock(unreceipted: &Mutex<Unreceipted>) -> MutexGuard<'_, Unreceipted> {
    unreceipted.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_is_renamed_for_the_run_and_named_back() {
        let names = Names::fresh();
        let body = json!({"id": "o", "victim_devices": ["v"], "perpetrator_devices": ["p"]});
        let renamed = names.rename_order(&body);
        let id = renamed["id"].as_str().unwrap();
        assert_ne!(id, "o");
        assert_eq!(names.scenario(id).as_deref(), Some("o"));
        assert_eq!(
            names
                .scenario(renamed["perpetrator_devices"][0].as_str().unwrap())
                .as_deref(),
            Some("p")
        );
        assert_eq!(names.scenario("o.other"), None);
    }
}
