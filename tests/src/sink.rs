//! A police dispatch endpoint for tests: records every request, answers 200,
//! 503, a redirect or never, on demand, and can go away and come back on the
//! same port.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// One request as the sink received it.
#[derive(Debug, Clone)]
pub struct SinkRequest {
    /// The HTTP method.
    pub method: String,
    /// Headers, names lower-cased.
    pub headers: HashMap<String, String>,
    /// The exact body.
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: Instant,
}

impl SinkRequest {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Default)]
struct Shared {
    delivered: Mutex<Vec<SinkRequest>>,
    failing: AtomicBool,
    redirecting: AtomicBool,
    hanging: AtomicBool,
}

/// A running fake dispatch endpoint.
pub struct Sink {
    port: u16,
    shared: Arc<Shared>,
    handle: Option<ServerHandle>,
}

impl Sink {
    /// Starts on a free port, answering 200.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("sink: {e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let mut sink = Self {
            port,
            shared: Arc::default(),
            handle: None,
        };
        sink.serve(listener);
        sink
    }

    fn serve(&mut self, listener: TcpListener) {
        let shared = self.shared.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::from(shared.clone()))
                .app_data(web::PayloadConfig::new(4 * 1024 * 1024))
                .default_service(web::to(receive))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap_or_else(|e| panic!("sink: {e}"))
        .run();
        self.handle = Some(server.handle());
        tokio::spawn(server);
    }

    /// The URL to configure as a dispatch route.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/alerts", self.port)
    }

    /// From now on, answer 503 (`true`) or 200 (`false`).
    pub fn set_failing(&self, failing: bool) {
        self.shared.failing.store(failing, Ordering::SeqCst);
    }

    /// From now on, answer a POST with `302 Found` to another path of this
    /// sink (`true`), whose GET is answered 200 and recorded; or as before (`false`).
    pub fn set_redirecting(&self, redirecting: bool) {
        self.shared.redirecting.store(redirecting, Ordering::SeqCst);
    }

    /// From now on, never answer (`true`), or answer as before (`false`).
    pub fn set_hanging(&self, hanging: bool) {
        self.shared.hanging.store(hanging, Ordering::SeqCst);
    }

    /// Every request answered 200, in arrival order.
    pub fn delivered(&self) -> Vec<SinkRequest> {
        self.shared
            .delivered
            .lock()
            .map(|d| d.clone())
            .unwrap_or_default()
    }

    /// Stops listening: connections are refused until [`Sink::restart`].
    pub async fn stop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.stop(false).await;
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .unwrap_or_else(|e| panic!("sink port {}: {e}", self.port));
        self.serve(listener);
    }
}

async fn receive(
    request: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    if shared.hanging.load(Ordering::SeqCst) {
        return std::future::pending().await;
    }
    if shared.failing.load(Ordering::SeqCst) {
        return HttpResponse::ServiceUnavailable().finish();
    }
    if shared.redirecting.load(Ordering::SeqCst)
        && request.method() == actix_web::http::Method::POST
    {
        return HttpResponse::Found()
            .insert_header(("Location", "/moved"))
            .finish();
    }
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = value.to_str().unwrap_or_default().to_owned();
            (name.as_str().to_ascii_lowercase(), value)
        })
        .collect();
    if let Ok(mut delivered) = shared.delivered.lock() {
        delivered.push(SinkRequest {
            method: request.method().as_str().to_owned(),
            headers,
            body: body.to_vec(),
            at: Instant::now(),
        });
    }
    HttpResponse::Ok().finish()
}
