//! A real headless Chromium for browser tests, driven over WebDriver by
//! Debian's `chromedriver`, plus a DevTools protocol connection for what
//! WebDriver cannot do (deliver a push message, grant a permission). Each
//! [`Browser`] has its own chromedriver, Chromium and profile, all removed
//! when it is dropped.
//!
//! `VANGNET_TEST_CHROMIUM` and `VANGNET_TEST_CHROMEDRIVER` name the
//! binaries (default `/usr/bin/chromium`, `/usr/bin/chromedriver`);
//! screenshots go to `VANGNET_SCREENSHOTS_DIR`, default `screenshots/`
//! beside the build's target profile folders.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::{free_port, unique_name};

/// How long a wait for the page lasts unless a test says otherwise.
pub const WAIT: Duration = Duration::from_secs(10);

fn binary(variable: &str, default: &str, package: &str) -> PathBuf {
    let path = PathBuf::from(std::env::var(variable).unwrap_or_else(|_| default.to_owned()));
    assert!(
        path.is_file(),
        "{} is missing: the browser tests need Debian's {package} \
         (apt-get install chromium chromium-driver; bash .ci/run installs them), \
         or {variable} naming another binary",
        path.display()
    );
    path
}

/// Where screenshots are saved.
pub fn screenshots_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("VANGNET_SCREENSHOTS_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    exe.ancestors().nth(3).map_or_else(
        || PathBuf::from("screenshots"),
        |target| target.join("screenshots"),
    )
}

/// One headless Chromium under its own chromedriver.
pub struct Browser {
    client: Client,
    driver: Child,
    profile: PathBuf,
    debugger: String,
}

impl Browser {
    /// Starts chromedriver and a fresh headless Chromium of 1280×800.
    pub async fn start() -> Self {
        Self::try_start()
            .await
            .unwrap_or_else(|e| panic!("starting the browser: {e:#}"))
    }

    async fn try_start() -> anyhow::Result<Self> {
        let chromium = binary("VANGNET_TEST_CHROMIUM", "/usr/bin/chromium", "chromium");
        let chromedriver = binary(
            "VANGNET_TEST_CHROMEDRIVER",
            "/usr/bin/chromedriver",
            "chromium-driver",
        );
        let port = free_port();
        let profile = std::env::temp_dir().join(unique_name("vangnet-chromium"));
        // Its own process group, so that dropping it ends Chromium as well.
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("spawning chromedriver")?;
        let mut browser = PartialBrowser {
            driver: Some(driver),
            profile: profile.clone(),
        };
        let webdriver = format!("http://127.0.0.1:{port}");
        wait_for_driver(&webdriver).await?;
        let capabilities: Capabilities = serde_json::from_value(json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    "--no-first-run",
                    "--window-size=1280,800",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        }))?;
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&webdriver)
            .await
            .context("opening a WebDriver session")?;
        let debugger = client
            .capabilities()
            .and_then(|caps| {
                caps.get("goog:chromeOptions")?
                    .get("debuggerAddress")?
                    .as_str()
            })
            .ok_or_else(|| anyhow!("chromedriver names no debuggerAddress"))?
            .to_owned();
        let driver = browser.driver.take().ok_or_else(|| anyhow!("no driver"))?;
        let browser = Self {
            client,
            driver,
            profile,
            debugger,
        };
        browser.set_viewport(1280, 800).await;
        Ok(browser)
    }

    /// The WebDriver client, for what this wrapper does not offer.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    /// Sets the size of the page's viewport.
    pub async fn set_viewport(&self, width: u32, height: u32) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        )
        .await;
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page and returns its value, awaiting a promise.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("running `{script}`: {e}"))
    }

    /// Waits until `script` returns true, failing with `what` after `wait`.
    pub async fn wait_until(&self, wait: Duration, what: &str, script: &str) {
        let deadline = Instant::now() + wait;
        loop {
            let value = self.client.execute(script, vec![]).await.ok();
            if value == Some(Value::Bool(true)) {
                return;
            }
            if Instant::now() >= deadline {
                self.fail(&format!("{what} did not happen within {wait:?}"))
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Fails the test with `why`, the page's text and a screenshot named after the test.
    async fn fail(&self, why: &str) -> ! {
        let test = std::thread::current()
            .name()
            .unwrap_or("browser-test")
            .replace("::", "-");
        let shot = self.screenshot(&format!("failed-{test}")).await;
        let text = self
            .client
            .execute("return document.body.innerText;", vec![])
            .await
            .unwrap_or_default();
        panic!("{why}\nscreenshot: {}\npage text: {text}", shot.display());
    }

    /// Waits until an element matching `css` is displayed.
    pub async fn wait_for(&self, css: &str) {
        self.wait_for_within(WAIT, css).await;
    }

    /// Waits up to `wait` until an element matching `css` is displayed.
    pub async fn wait_for_within(&self, wait: Duration, css: &str) {
        let script = format!(
            "const e = document.querySelector({}); return !!e && e.getClientRects().length > 0;",
            json!(css)
        );
        self.wait_until(wait, &format!("`{css}` showing"), &script)
            .await;
    }

    /// The element matching `css`, once it is displayed.
    async fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.wait_for(css).await;
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("finding {css}: {e}"))
    }

    /// Clicks the element matching `css`, again if the page redrew it between finding and clicking.
    pub async fn click(&self, css: &str) {
        self.wait_for(css).await;
        let deadline = Instant::now() + WAIT;
        loop {
            let clicked = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.click().await,
                Err(e) => Err(e),
            };
            match clicked {
                Ok(()) => return,
                Err(e) if Instant::now() >= deadline => {
                    self.fail(&format!("clicking {css}: {e}")).await
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Presses the mouse button on the middle of the element matching `css` and keeps it down until [`Browser::release`].
    pub async fn press(&self, css: &str) {
        self.mouse(css, &[]).await;
    }

    /// Presses the mouse button on the middle of the element matching `css` and lets go after `held`, timed by the browser.
    pub async fn press_for(&self, css: &str, held: Duration) {
        let up = PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        };
        self.mouse(css, &[PointerAction::Pause { duration: held }, up])
            .await;
    }

    /// Lets go of the mouse button that [`Browser::press`] holds down.
    pub async fn release(&self) {
        let up = MouseActions::new("mouse".to_owned()).then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
        self.client
            .perform_actions(up)
            .await
            .unwrap_or_else(|e| panic!("releasing the mouse button: {e}"));
    }

    /// Moves the mouse onto the element matching `css`, presses its button, then does `then`.
    async fn mouse(&self, css: &str, then: &[PointerAction]) {
        let element = self.element(css).await;
        let mut actions = MouseActions::new("mouse".to_owned())
            .then(PointerAction::MoveToElement {
                element,
                duration: None,
                x: 0.0,
                y: 0.0,
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            });
        for action in then {
            actions = actions.then(action.clone());
        }
        self.client
            .perform_actions(actions)
            .await
            .unwrap_or_else(|e| panic!("pressing {css}: {e}"));
    }

    /// Types `text` into the element matching `css`, replacing what it held.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.element(css).await;
        element
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clearing {css}: {e}"));
        element
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("typing into {css}: {e}"));
    }

    /// The text of the element matching `css`, or empty when there is none.
    pub async fn text(&self, css: &str) -> String {
        let script = format!(
            "const e = document.querySelector({}); return e ? e.textContent : '';",
            json!(css)
        );
        self.js(&script, vec![])
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// True when the element matching `css` lies wholly inside the viewport.
    pub async fn in_viewport(&self, css: &str) -> bool {
        let script = format!(
            "const e = document.querySelector({}); if (!e) return false; \
             const r = e.getBoundingClientRect(); \
             return r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0 \
               && r.bottom <= innerHeight && r.right <= innerWidth;",
            json!(css)
        );
        self.js(&script, vec![]).await == Value::Bool(true)
    }

    /// Saves a PNG of the viewport as `name.png` in [`screenshots_dir`]; returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("taking a screenshot: {e}"));
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path
    }

    /// Sends one DevTools protocol command to the page through chromedriver.
    pub async fn cdp(&self, method: &str, params: Value) -> Value {
        let command = CdpCommand {
            method: method.to_owned(),
            params,
        };
        self.client
            .issue_cmd(command)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    /// Waits until the service worker of `scope` on `origin` is active and
    /// its page shows no notification yet; pushes can then be delivered to it.
    pub async fn push_target(&self, origin: &str, scope: &str) -> PushTarget {
        let mut devtools = self.devtools(scope).await;
        devtools.call("ServiceWorker.enable", json!({})).await;
        let ours = |r: &Value| r["scopeURL"] == scope && r["isDeleted"] == false;
        let registration = devtools
            .event(WAIT, "the service worker's registration", |event| {
                event["method"] == "ServiceWorker.workerRegistrationUpdated"
                    && event["params"]["registrations"]
                        .as_array()
                        .is_some_and(|r| r.iter().any(ours))
            })
            .await;
        let registration_id = registration["params"]["registrations"]
            .as_array()
            .and_then(|r| r.iter().find(|r| ours(r)))
            .map(|r| r["registrationId"].clone())
            .unwrap_or_else(|| panic!("no registration of {scope}"));
        devtools
            .event(WAIT, "the service worker activated", |event| {
                event["method"] == "ServiceWorker.workerVersionUpdated"
                    && event["params"]["versions"].as_array().is_some_and(|v| {
                        v.iter().any(|v| {
                            v["registrationId"] == registration_id && v["status"] == "activated"
                        })
                    })
            })
            .await;
        let none_yet = "return navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((all) => all.length === 0);";
        self.wait_until(WAIT, "an empty notification list before the push", none_yet)
            .await;
        PushTarget {
            devtools,
            push: json!({"origin": origin, "registrationId": registration_id}),
        }
    }

    /// A DevTools protocol connection of its own to the page at `url`, for commands that need its events.
    pub async fn devtools(&self, url_prefix: &str) -> DevTools {
        DevTools::connect(&self.debugger, url_prefix)
            .await
            .unwrap_or_else(|e| panic!("connecting to DevTools: {e:#}"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        end_group(&mut self.driver);
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// What is started before the session is up, cleaned away if starting fails.
struct PartialBrowser {
    driver: Option<Child>,
    profile: PathBuf,
}

impl Drop for PartialBrowser {
    fn drop(&mut self) {
        if let Some(driver) = self.driver.as_mut() {
            end_group(driver);
            let _ = std::fs::remove_dir_all(&self.profile);
        }
    }
}

/// Kills chromedriver's process group (chromedriver and its Chromium) and reaps chromedriver.
fn end_group(driver: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", driver.id())])
        .status();
    let _ = driver.wait();
}

async fn wait_for_driver(webdriver: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = format!("{webdriver}/status");
    loop {
        if let Ok(response) = reqwest::get(&status).await
            && let Ok(body) = response.json::<Value>().await
            && body["value"]["ready"] == Value::Bool(true)
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("chromedriver did not answer {status} within 10 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// chromedriver's `goog/cdp/execute`: one DevTools command on the session's page.
#[derive(Debug)]
struct CdpCommand {
    method: String,
    params: Value,
}

impl WebDriverCompatibleCommand for CdpCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({"cmd": self.method, "params": self.params});
        (http::Method::POST, Some(body.to_string()))
    }
}

/// A DevTools protocol connection to one page, keeping the events it has seen.
pub struct DevTools {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    events: Vec<Value>,
}

impl DevTools {
    async fn connect(debugger: &str, url_prefix: &str) -> anyhow::Result<Self> {
        let targets: Vec<Value> = reqwest::get(format!("http://{debugger}/json/list"))
            .await?
            .json()
            .await?;
        let target = targets
            .iter()
            .find(|t| {
                t["type"] == "page" && t["url"].as_str().is_some_and(|u| u.starts_with(url_prefix))
            })
            .ok_or_else(|| anyhow!("no page at {url_prefix} among {targets:?}"))?;
        let ws = target["webSocketDebuggerUrl"]
            .as_str()
            .ok_or_else(|| anyhow!("the page has no webSocketDebuggerUrl"))?;
        let (socket, _) = tokio_tungstenite::connect_async(ws).await?;
        Ok(Self {
            socket,
            next_id: 1,
            events: Vec::new(),
        })
    }

    /// Sends `method` and returns its result; events read meanwhile are kept.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({"id": id, "method": method, "params": params});
        self.socket
            .send(Message::text(request.to_string()))
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        loop {
            let message = self.read(Instant::now() + WAIT).await;
            let message = message.unwrap_or_else(|| panic!("no answer to {method}"));
            if message["id"] == id {
                assert!(message.get("error").is_none(), "{method}: {message}");
                return message["result"].clone();
            }
        }
    }

    /// The first event (seen already or arriving within `wait`) for which `matches` holds.
    pub async fn event(
        &mut self,
        wait: Duration,
        what: &str,
        matches: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + wait;
        let mut seen = 0;
        loop {
            if let Some(event) = self.events[seen..].iter().find(|e| matches(e)) {
                return event.clone();
            }
            seen = self.events.len();
            if self.read(deadline).await.is_none() {
                panic!("{what}: no such DevTools event within {wait:?}");
            }
        }
    }

    /// The next message before `deadline`; events are also kept in `events`.
    async fn read(&mut self, deadline: Instant) -> Option<Value> {
        loop {
            let message = tokio::time::timeout_at(deadline.into(), self.socket.next())
                .await
                .ok()??
                .ok()?;
            let Message::Text(text) = message else {
                continue;
            };
            let value: Value = serde_json::from_str(text.as_str()).ok()?;
            if value.get("method").is_some() {
                self.events.push(value.clone());
            }
            return Some(value);
        }
    }
}

/// A service worker to deliver pushes to, as a push service would.
pub struct PushTarget {
    devtools: DevTools,
    push: Value,
}

impl PushTarget {
    /// Delivers `data` until a notification shows on `browser`'s page;
    /// `[title, tag, requireInteraction]` of each shown.
    ///
    /// Chromium may drop a message delivered just after the worker
    /// activated, so it is delivered again until shown, as a push service
    /// retries; a tag keeps repeated deliveries one notification.
    pub async fn deliver(&mut self, browser: &Browser, data: &str) -> Value {
        let shown = "return navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((all) => \
            all.map((n) => [n.title, n.tag, n.requireInteraction]));";
        let mut push = self.push.clone();
        push["data"] = json!(data);
        let deadline = Instant::now() + WAIT;
        let mut notifications = json!([]);
        while notifications == json!([]) && Instant::now() < deadline {
            self.devtools
                .call("ServiceWorker.deliverPushMessage", push.clone())
                .await;
            let delivered = Instant::now();
            while notifications == json!([]) && delivered.elapsed() < Duration::from_secs(2) {
                tokio::time::sleep(Duration::from_millis(100)).await;
                notifications = browser.js(shown, vec![]).await;
            }
        }
        notifications
    }
}
