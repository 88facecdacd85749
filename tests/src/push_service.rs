//! A Web Push service for tests, and the browser keys it delivers to: the
//! service records every push it is sent and answers 201, or a status set
//! by the test; a [`Browser`] holds a P-256 key pair and an authentication
//! secret as a browser's subscription does, and decrypts what it is sent
//! (RFC 8291, `aes128gcm`) with its private key.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use rand::RngCore;

/// One push as the service received it.
#[derive(Debug, Clone)]
pub struct Push {
    /// The path it was posted to, which names the browser.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: HashMap<String, String>,
    /// The encrypted body.
    pub body: Vec<u8>,
}

#[derive(Default)]
struct Shared {
    pushes: Mutex<Vec<Push>>,
    status: AtomicU16,
}

/// A running test push service on a loopback port.
pub struct PushService {
    port: u16,
    shared: Arc<Shared>,
    handle: ServerHandle,
}

impl PushService {
    /// Starts on a free port, answering 201.
    pub fn start() -> Self {
        let listener =
            TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("push service: {e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let shared = Arc::new(Shared {
            status: AtomicU16::new(201),
            ..Shared::default()
        });
        let data = shared.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::from(data.clone()))
                .default_service(web::to(receive))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap_or_else(|e| panic!("push service: {e}"))
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            port,
            shared,
            handle,
        }
    }

    /// The endpoint of a browser named `name`.
    pub fn endpoint(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/push/{name}", self.port)
    }

    /// From now on, answer every push with `status`.
    pub fn answer(&self, status: u16) {
        self.shared.status.store(status, Ordering::SeqCst);
    }

    /// Every push received for `endpoint`, in arrival order.
    pub fn pushes_to(&self, endpoint: &str) -> Vec<Push> {
        let path = endpoint
            .split_once(&format!(":{}", self.port))
            .map_or(endpoint, |(_, path)| path);
        self.shared
            .pushes
            .lock()
            .map(|pushes| pushes.iter().filter(|p| p.path == path).cloned().collect())
            .unwrap_or_default()
    }

    /// The pushes to `endpoint` once there are at least `count`; panics after `wait`.
    pub async fn pushes_at_least(
        &self,
        endpoint: &str,
        count: usize,
        wait: std::time::Duration,
    ) -> Vec<Push> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            let pushes = self.pushes_to(endpoint);
            if pushes.len() >= count {
                return pushes;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} of {count} pushes to {endpoint} within {wait:?}",
                pushes.len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

impl Drop for PushService {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

async fn receive(
    request: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    if let Ok(mut pushes) = shared.pushes.lock() {
        pushes.push(Push {
            path: request.path().to_owned(),
            headers,
            body: body.to_vec(),
        });
    }
    let status = actix_web::http::StatusCode::from_u16(shared.status.load(Ordering::SeqCst))
        .unwrap_or(actix_web::http::StatusCode::CREATED);
    HttpResponse::build(status).finish()
}

/// A browser's side of a subscription: its key pair and authentication secret.
pub struct Browser {
    secret: p256::SecretKey,
    auth: [u8; 16],
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    /// Fresh keys, as `pushManager.subscribe` makes.
    pub fn new() -> Self {
        let secret = loop {
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            if let Ok(secret) = p256::SecretKey::from_slice(&bytes) {
                break secret;
            }
        };
        let mut auth = [0u8; 16];
        rand::rng().fill_bytes(&mut auth);
        Self { secret, auth }
    }

    /// `PushSubscription.toJSON()` of this browser at `endpoint`.
    pub fn subscription(&self, endpoint: &str) -> serde_json::Value {
        let point = self.secret.public_key().to_encoded_point(false);
        serde_json::json!({
            "endpoint": endpoint,
            "expirationTime": null,
            "keys": {
                "p256dh": URL_SAFE_NO_PAD.encode(point.as_bytes()),
                "auth": URL_SAFE_NO_PAD.encode(self.auth),
            }
        })
    }

    /// The plaintext of an `aes128gcm` push body for this browser.
    pub fn decrypt(&self, body: &[u8]) -> Vec<u8> {
        let auth = web_push_native::Auth::clone_from_slice(&self.auth);
        web_push_native::decrypt(body.to_vec(), &self.secret, &auth)
            .unwrap_or_else(|e| panic!("the push does not decrypt: {e}"))
    }
}
