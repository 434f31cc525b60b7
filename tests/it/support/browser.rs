//! A real browser for the page tests: headless Chromium through chromedriver (Debian's
//! `chromium` and `chromium-driver`, installed by `.ci/run`) with fantoccini.

use super::TestApp;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::Instant;
use uuid::Uuid;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver on a free port. Dropped (also when a test panics), it ends the browser
/// session, so that Chromium exits, then stops chromedriver.
pub struct Driver {
    child: Child,
    url: String,
    port: u16,
    session: Option<String>,
    _profile: TempDir,
    // dropped after the browser has exited (fields drop after `Drop::drop`)
    _slot: tokio::sync::SemaphorePermit<'static>,
}

/// At most two browsers at once: each page test has its own, and Chromium is heavy beside the
/// rest of the suite on a small machine (the tests' 20 s waits must not time out).
static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

pub struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(id) = &self.session {
            // Blocking plain HTTP: Drop cannot await.
            use std::io::{Read, Write};
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(10)));
                let _ = write!(
                    s,
                    "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                    self.port
                );
                let _ = s.read_to_end(&mut Vec::new());
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    pub async fn start() -> (Driver, Client) {
        let slot = SLOTS.acquire().await.unwrap();
        let driver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| CHROMEDRIVER.into());
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| CHROMIUM.into());
        assert!(
            std::path::Path::new(&driver).exists() && std::path::Path::new(&chromium).exists(),
            "the console's browser tests need Chromium and chromedriver ({chromium}, {driver}): \
             `apt-get install -y chromium chromium-driver` (.ci/run does it), or set CHROMIUM and \
             CHROMEDRIVER"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile =
            TempDir(std::env::temp_dir().join(format!("bcci-console-chromium-{}", Uuid::new_v4())));
        let mut d = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            port,
            session: None,
            _profile: profile,
            _slot: slot,
        };
        let http = reqwest::Client::new();
        let until = Instant::now() + std::time::Duration::from_secs(30);
        while http.get(format!("{}/status", d.url)).send().await.is_err() {
            assert!(Instant::now() < until, "chromedriver did not start");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--lang=vi",
                    "--window-size=1280,1000",
                    format!("--user-data-dir={}", d._profile.0.display()),
                ]
            }),
        );
        let client = ClientBuilder::native()
            .capabilities(caps)
            .connect(&d.url)
            .await
            .expect("a Chromium session through chromedriver");
        d.session = client.session_id().await.ok().flatten();
        (d, client)
    }
}

/// The browser, pointed at the gateway.
pub struct Browser<'a> {
    pub c: Client,
    pub app: &'a TestApp,
    pub shots: Option<std::path::PathBuf>,
}

impl Browser<'_> {
    pub async fn goto(&self, path: &str) {
        self.c.goto(&self.app.url(path)).await.unwrap();
    }

    pub async fn path(&self) -> String {
        self.c.current_url().await.unwrap().path().to_owned()
    }

    /// Waits until the page's path is `path` (after a form posts and redirects).
    pub async fn wait_path(&self, path: &str) {
        let until = Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if self.path().await == path {
                return;
            }
            assert!(
                Instant::now() < until,
                "expected to reach {path}, still at {}",
                self.path().await
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The element's text, white space collapsed (table cells come tab- or space-separated).
    pub async fn text(&self, css: &str) -> String {
        let raw = self
            .c
            .wait()
            .at_most(std::time::Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
            .text()
            .await
            .unwrap();
        raw.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// Where the link `css` leads (its `href`).
    pub async fn href(&self, css: &str) -> String {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
            .attr("href")
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{css} has no href"))
    }

    pub async fn count(&self, css: &str) -> usize {
        self.c.find_all(Locator::Css(css)).await.unwrap().len()
    }

    /// Sets a field of the form `form` (a CSS selector) by name.
    pub async fn fill(&self, form: &str, name: &str, value: &str) {
        self.c
            .form(Locator::Css(form))
            .await
            .unwrap()
            .set_by_name(name, value)
            .await
            .unwrap();
    }

    /// Clicks a link or a submit button, and waits for the next page to load.
    pub async fn click(&self, css: &str) {
        let before = self.c.find(Locator::Css("html")).await.unwrap();
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .click()
            .await
            .unwrap();
        let until = Instant::now() + std::time::Duration::from_secs(20);
        // the old document goes stale once the browser has navigated
        while before.tag_name().await.is_ok() {
            assert!(Instant::now() < until, "clicking {css} loaded no page");
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        while Client::execute(&self.c, "return document.readyState", vec![])
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .as_deref()
            != Some("complete")
        {
            assert!(Instant::now() < until, "the page after {css} did not load");
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }

    /// A screenshot of the whole page (the window grows to the page's height, then back).
    pub async fn shot(&self, name: &str) {
        let Some(dir) = &self.shots else {
            return;
        };
        std::fs::create_dir_all(dir).unwrap();
        let (w, h) = self.c.get_window_size().await.unwrap();
        let page_h = Client::execute(
            &self.c,
            "return document.documentElement.scrollHeight",
            vec![],
        )
        .await
        .unwrap()
        .as_u64()
        .unwrap_or(h);
        // the window's frame around the page: a few pixels in headless Chromium
        self.c
            .set_window_size(w as u32, (page_h + 90).max(h).min(4000) as u32)
            .await
            .unwrap();
        let png = self.c.screenshot().await.unwrap();
        self.c.set_window_size(w as u32, h as u32).await.unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    pub async fn sign_in(&self, token: &str) {
        self.goto("/console/sign-in").await;
        self.fill("form[action='/console/sign-in']", "token", token)
            .await;
        self.click("#sign-in").await;
    }

    pub async fn cookie(&self) -> Option<String> {
        self.c
            .get_named_cookie("bcci_console")
            .await
            .ok()
            .map(|c| c.value().to_owned())
    }
}
