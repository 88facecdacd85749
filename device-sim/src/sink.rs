//! `vangnet-sim sink`: a fake police dispatch endpoint (docs/api.md#police-dispatch) for
//! pilots and tests. It takes POSTs on any path, checks the
//! `X-Vangnet-Signature` HMAC, answers according to a fault plan, records
//! every request as a JSON line and prints a live summary on stderr.
//!
//! Answers, in this order of precedence: inside the down window 503 at once
//! with the connection closed ("down"); `--hang-percent` of requests never
//! answered ("hung"); then, after `--latency-ms`, `--fail-percent` of
//! requests 503, a method other than POST 405, a missing or wrong signature
//! (with `--secret`) 401, everything else 200.
//!
//! "Down" cannot refuse connections from inside a listening process, so it
//! answers 503 with `Connection: close` at once, without the latency. Both
//! rolls (hang, fail) are drawn for every request, down or not, so with the
//! same `--seed` the n-th request to arrive gets the same fate. The summary
//! (every 5 s and at exit) counts answers in disjoint classes: delivered
//! (2xx), failed (other statuses, 401 included), hung and down; duplicates
//! are requests whose Idempotency-Key was seen before, whatever the answers;
//! the P1 gap runs from a JSON body's `updated_at` to its 2xx answer.
//!
//! `load`, `bench` and `soak` serve the same handler in their own process
//! ([`InProcessSink`]), without faults, to time or handle the dispatches they
//! cause; `chaos` switches its outage on and off and keeps the keys delivered
//! ([`Ledger`]).

mod ledger;
mod plan;
mod record;
mod tally;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use actix_web::dev::{Server, ServerHandle};
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context;
use serde_json::{Map, Value, json};

pub use self::ledger::Ledger;
use self::plan::{Fate, FaultPlan};
use self::record::Recorder;
use self::tally::{Outcome, Tally};

/// How often the summary line is printed.
const SUMMARY_EVERY: Duration = Duration::from_secs(5);
/// Largest body accepted.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// The signature header (docs/api.md#headers).
const SIGNATURE_HEADER: &str = "x-vangnet-signature";

/// Options of `vangnet-sim sink`.
#[derive(Debug, clap::Args)]
pub struct SinkArgs {
    /// Address to listen on (port 0 picks a free port, printed on stderr)
    #[arg(long, default_value = "127.0.0.1:9090")]
    listen: SocketAddr,
    /// Signing secret: requests must carry a valid X-Vangnet-Signature, else 401
    #[arg(long)]
    secret: Option<String>,
    /// Append one JSON line per request to this file (`-` for stdout)
    #[arg(long)]
    record: Option<PathBuf>,
    /// Answer this share of requests 503
    #[arg(long, default_value_t = 0.0)]
    fail_percent: f64,
    /// Never answer this share of requests
    #[arg(long, default_value_t = 0.0)]
    hang_percent: f64,
    /// Wait this long before answering
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Down (503 at once, connection closed) from this time: `+60s` after the start or RFC 3339 [default: the start, with --down-until]
    #[arg(long)]
    down_from: Option<String>,
    /// Up again at this time: `+120s` after the start or RFC 3339 [default: never, with --down-from]
    #[arg(long)]
    down_until: Option<String>,
    /// Seed of the fail and hang rolls [default: random, printed on stderr]
    #[arg(long)]
    seed: Option<u64>,
    /// HTTP worker threads
    #[arg(long, default_value_t = 2)]
    workers: usize,
}

/// Sees each request's body as it arrives, for measurements in this process.
pub type Observer = Box<dyn Fn(&Value) + Send + Sync>;

/// State shared by the sink's workers.
struct Sink {
    secret: Option<Vec<u8>>,
    plan: FaultPlan,
    rng: Mutex<fastrand::Rng>,
    tally: Mutex<Tally>,
    recorder: Recorder,
    observer: Option<Observer>,
    ledger: Option<Arc<Ledger>>,
}

impl Sink {
    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Runs the sink until Ctrl-C or SIGTERM, then prints the final summary.
pub async fn run(args: SinkArgs) -> anyhow::Result<()> {
    let plan = FaultPlan::new(
        args.fail_percent,
        args.hang_percent,
        Duration::from_millis(args.latency_ms),
        args.down_from.as_deref(),
        args.down_until.as_deref(),
    )?;
    let seed = args.seed.unwrap_or_else(|| fastrand::u64(..));
    let sink = web::Data::new(Sink {
        secret: args.secret.map(String::into_bytes),
        plan,
        rng: Mutex::new(fastrand::Rng::with_seed(seed)),
        tally: Mutex::new(Tally::default()),
        recorder: Recorder::open(args.record.as_deref())?,
        observer: None,
        ledger: None,
    });
    let (addrs, server) = listen(sink.clone(), args.listen, args.workers)?;
    let handle = server.handle();
    let mut server = tokio::spawn(server);
    for addr in addrs {
        eprintln!(
            "sink: listening on http://{addr} ({}, signatures {}, seed {seed})",
            sink.plan,
            if sink.secret.is_some() {
                "required"
            } else {
                "not checked"
            }
        );
    }

    let mut summary =
        tokio::time::interval_at(tokio::time::Instant::now() + SUMMARY_EVERY, SUMMARY_EVERY);
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = summary.tick() => eprintln!("sink: {}", sink.tally()),
            signal = &mut stop => {
                signal?;
                break;
            }
            ended = &mut server => {
                ended.context("the HTTP server task")??;
                anyhow::bail!("the HTTP server stopped by itself");
            }
        }
    }
    handle.stop(false).await;
    eprintln!("sink: final {}", sink.tally());
    Ok(())
}

/// A sink serving inside this process: every request answered 200 at once
/// (503 during a [`Ledger`]'s outage), unsigned and unrecorded, its body
/// shown to an observer.
pub struct InProcessSink {
    url: String,
    handle: ServerHandle,
    sink: web::Data<Sink>,
}

impl InProcessSink {
    /// Listens on `addr` (port 0 picks a free one).
    pub fn start(addr: SocketAddr, observer: Observer) -> anyhow::Result<Self> {
        Self::serve(addr, Some(observer), None)
    }

    /// Listens on `addr` with `ledger` keeping the keys delivered and switching outages.
    pub fn with_ledger(addr: SocketAddr, ledger: Arc<Ledger>) -> anyhow::Result<Self> {
        Self::serve(addr, None, Some(ledger))
    }

    fn serve(
        addr: SocketAddr,
        observer: Option<Observer>,
        ledger: Option<Arc<Ledger>>,
    ) -> anyhow::Result<Self> {
        let sink = web::Data::new(Sink {
            secret: None,
            plan: FaultPlan::new(0.0, 0.0, Duration::ZERO, None, None)?,
            rng: Mutex::new(fastrand::Rng::with_seed(0)),
            tally: Mutex::new(Tally::default()),
            recorder: Recorder::open(None)?,
            observer,
            ledger,
        });
        let (addrs, server) = listen(sink.clone(), addr, 2)?;
        let bound = addrs.first().context("the sink bound no address")?;
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Self {
            url: format!("http://{bound}/dispatch"),
            handle,
            sink,
        })
    }

    /// The counts of the live summary: received, delivered, down, duplicates and more.
    pub fn summary(&self) -> String {
        self.sink.tally().to_string()
    }

    /// The URL to give Vangnet as `VANGNET_DISPATCH_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops serving.
    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// Binds the sink's HTTP server to `addr`; returns the bound addresses and the server to run.
fn listen(
    sink: web::Data<Sink>,
    addr: SocketAddr,
    workers: usize,
) -> anyhow::Result<(Vec<SocketAddr>, Server)> {
    let server = HttpServer::new(move || {
        App::new()
            .app_data(sink.clone())
            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
            .default_service(web::to(answer))
    })
    .workers(workers.max(1))
    .disable_signals()
    .shutdown_timeout(1)
    .bind(addr)
    .with_context(|| format!("binding {addr}"))?;
    Ok((server.addrs(), server.run()))
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        ctrl_c = tokio::signal::ctrl_c() => ctrl_c.context("waiting for Ctrl-C"),
        _ = term.recv() => Ok(()),
    }
}

/// What the signature check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signature {
    /// No signature header.
    Unsigned,
    /// A signature header but no `--secret` to check it with.
    Unchecked,
    /// Matches the HMAC of the body under the secret.
    Valid,
    /// Does not match.
    Invalid,
}

impl Signature {
    fn check(secret: Option<&[u8]>, header: Option<&str>, body: &[u8]) -> Self {
        match (secret, header) {
            (_, None) => Self::Unsigned,
            (None, Some(_)) => Self::Unchecked,
            (Some(secret), Some(header)) => {
                let expected = vangnet_proto::dispatch_signature(secret, body);
                if header.trim().eq_ignore_ascii_case(&expected) {
                    Self::Valid
                } else {
                    Self::Invalid
                }
            }
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Unsigned => "unsigned",
            Self::Unchecked => "unchecked",
            Self::Valid => "valid",
            Self::Invalid => "invalid",
        }
    }
}

/// The handler of every request.
async fn answer(request: HttpRequest, body: web::Bytes, sink: web::Data<Sink>) -> HttpResponse {
    let received_at = SystemTime::now();
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    };
    let content_type = header("content-type").unwrap_or_default();
    let idempotency_key = header("idempotency-key");
    let body_value = body_value(&content_type, &body);
    if let Some(observe) = &sink.observer {
        observe(&body_value);
    }
    let priority = body_value
        .get("priority")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let p1_updated_at = (priority.as_deref() == Some("P1"))
        .then(|| body_value.get("updated_at").and_then(Value::as_str))
        .flatten()
        .and_then(|t| humantime::parse_rfc3339_weak(t).ok());
    let signature = Signature::check(
        sink.secret.as_deref(),
        header(SIGNATURE_HEADER).as_deref(),
        &body,
    );
    let duplicate = {
        let mut tally = sink.tally();
        if sink.secret.is_some() && matches!(signature, Signature::Unsigned | Signature::Invalid) {
            tally.bad_signature(signature == Signature::Unsigned);
        }
        tally.receive(idempotency_key.as_deref(), priority.as_deref())
    };
    let mut fate = sink
        .plan
        .decide(&mut sink.rng.lock().unwrap_or_else(|p| p.into_inner()));
    if sink.ledger.as_ref().is_some_and(|ledger| ledger.is_down()) {
        fate = Fate::Down;
    }

    let mut line = Map::new();
    line.insert(
        "received_at".into(),
        humantime::format_rfc3339_millis(received_at)
            .to_string()
            .into(),
    );
    line.insert("method".into(), request.method().as_str().into());
    line.insert(
        "path".into(),
        request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .into(),
    );
    line.insert(
        "peer".into(),
        request
            .peer_addr()
            .map_or(Value::Null, |peer| peer.to_string().into()),
    );
    line.insert("headers".into(), headers(&request));
    line.insert("body".into(), body_value);
    line.insert("idempotency_key".into(), json!(idempotency_key));
    line.insert("duplicate".into(), duplicate.into());
    line.insert("signature".into(), signature.label().into());

    let finish = |line: &mut Map<String, Value>, answer: Value, outcome: Outcome| {
        let answered_at = SystemTime::now();
        line.insert("answer".into(), answer);
        line.insert(
            "answered_at".into(),
            humantime::format_rfc3339_millis(answered_at)
                .to_string()
                .into(),
        );
        sink.tally().answer(outcome, p1_updated_at, answered_at);
        sink.recorder.write(&Value::Object(std::mem::take(line)));
    };

    match fate {
        Fate::Down => {
            finish(&mut line, "down".into(), Outcome::Down);
            return HttpResponse::ServiceUnavailable().force_close().finish();
        }
        Fate::Hang => {
            line.insert("answer".into(), "hung".into());
            sink.tally().answer(Outcome::Hung, None, received_at);
            sink.recorder.write(&Value::Object(line));
            return std::future::pending().await;
        }
        Fate::Fail | Fate::Serve => {}
    }
    if !sink.plan.latency.is_zero() {
        tokio::time::sleep(sink.plan.latency).await;
    }
    let status = if fate == Fate::Fail {
        StatusCode::SERVICE_UNAVAILABLE
    } else if request.method() != actix_web::http::Method::POST {
        StatusCode::METHOD_NOT_ALLOWED
    } else if sink.secret.is_some() && signature != Signature::Valid {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let outcome = if status.is_success() {
        Outcome::Delivered
    } else {
        Outcome::Failed
    };
    finish(&mut line, status.as_u16().into(), outcome);
    if let (true, Some(ledger), Some(key)) = (
        status.is_success(),
        &sink.ledger,
        idempotency_key.as_deref(),
    ) {
        ledger.delivered(key);
    }
    HttpResponse::build(status).finish()
}

/// The body as a JSON value when the content type says JSON and it parses,
/// else as a string (lossy UTF-8).
fn body_value(content_type: &str, body: &[u8]) -> Value {
    if content_type.to_ascii_lowercase().contains("json")
        && let Ok(value) = serde_json::from_slice(body)
    {
        return value;
    }
    String::from_utf8_lossy(body).into_owned().into()
}

/// All headers with lower-case names; repeated headers joined with ", ".
fn headers(request: &HttpRequest) -> Value {
    let mut all = Map::new();
    for (name, value) in request.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match all.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                all.insert(name.as_str().to_owned(), value.into());
            }
        }
    }
    Value::Object(all)
}
