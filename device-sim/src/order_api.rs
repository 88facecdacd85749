//! The part of Vangnet's HTTP API (docs/api.md#orders) the load, bench and
//! soak runs use: creating their orders before the run and ending them
//! after, with an admin token; and signing the tokens they call it with.

use anyhow::{Context, bail};
use tokio::task::JoinSet;
use vangnet_proto::TimestampMs;
use vangnet_proto::token::{Claims, Role, sign_hs256};

use crate::fleet::SimOrder;
use crate::retry::send_retrying_429;

/// Orders per import call.
const IMPORT_CHUNK: usize = 2_000;
/// Requests in flight at once.
const CONCURRENCY: usize = 16;
/// How long a token signed here stays valid past the run.
const TOKEN_MARGIN_S: u64 = 3600;

/// An admin token for all regions signed with the HS256 `secret`, valid for `lifetime_s` plus an hour.
pub fn admin_token(secret: &str, lifetime_s: u64) -> anyhow::Result<String> {
    token(secret, Role::Admin, "vangnet-sim-load", lifetime_s)
}

/// A token of `role` for all regions, held by `sub`, signed with the HS256
/// `secret`, valid for `lifetime_s` plus an hour.
pub fn token(secret: &str, role: Role, sub: &str, lifetime_s: u64) -> anyhow::Result<String> {
    let claims = Claims {
        sub: sub.into(),
        role,
        regions: vec!["*".into()],
        exp: TimestampMs::now().millis() / 1000 + lifetime_s + TOKEN_MARGIN_S,
        iss: None,
        aud: None,
    };
    sign_hs256(secret.as_bytes(), &claims).context("signing the admin token")
}

/// Vangnet's order endpoints, called with one bearer token.
#[derive(Clone)]
pub struct OrderApi {
    http: reqwest::Client,
    base_url: String,
    token: String,
}

impl OrderApi {
    /// The API of the Vangnet at `base_url`.
    pub fn new(http: reqwest::Client, base_url: &str, token: String) -> Self {
        Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            token,
        }
    }

    /// Creates every order with `POST /api/v1/orders/import`, a few thousand
    /// per call; fails if any is refused.
    pub async fn import_all(&self, orders: &[SimOrder]) -> anyhow::Result<()> {
        for share in orders.chunks(IMPORT_CHUNK) {
            let bodies: Vec<_> = share.iter().map(SimOrder::body).collect();
            let request = self
                .http
                .post(format!("{}/api/v1/orders/import", self.base_url))
                .bearer_auth(&self.token)
                .json(&bodies);
            let response = send_retrying_429(request)
                .await
                .context("POST /api/v1/orders/import")?;
            let status = response.status();
            let report: serde_json::Value = response
                .json()
                .await
                .with_context(|| format!("the import's answer ({status})"))?;
            if !status.is_success() {
                bail!("importing orders: {status} {report}");
            }
            let refused = report["refused"].as_array().map_or(0, Vec::len);
            if refused > 0 {
                bail!("importing orders: {refused} refused: {}", report["refused"]);
            }
        }
        Ok(())
    }

    /// Ends every order (`DELETE /api/v1/orders/{id}`) that exists, several at a time.
    pub async fn end_all(&self, orders: &[SimOrder]) -> anyhow::Result<()> {
        self.each(orders, |api, order| async move { api.end(&order).await })
            .await
    }

    async fn each<F, Fut>(&self, orders: &[SimOrder], call: F) -> anyhow::Result<()>
    where
        F: Fn(Self, SimOrder) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send,
    {
        let mut calls = JoinSet::new();
        for share in orders.chunks(orders.len().div_ceil(CONCURRENCY).max(1)) {
            let (api, share, call) = (self.clone(), share.to_vec(), call.clone());
            calls.spawn(async move {
                for order in share {
                    call(api.clone(), order).await?;
                }
                anyhow::Ok(())
            });
        }
        while let Some(done) = calls.join_next().await {
            done.context("order API task")??;
        }
        Ok(())
    }

    async fn end(&self, order: &SimOrder) -> anyhow::Result<()> {
        let request = self
            .http
            .delete(format!("{}/api/v1/orders/{}", self.base_url, order.id))
            .bearer_auth(&self.token);
        let response = send_retrying_429(request)
            .await
            .context("DELETE /api/v1/orders/{id}")?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        expect_success(response, "ending order", &order.id).await
    }
}

/// Fails with the status and Vangnet's error message unless the answer is 2xx.
async fn expect_success(response: reqwest::Response, what: &str, id: &str) -> anyhow::Result<()> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    bail!("{what} {id}: {status} {body}")
}
