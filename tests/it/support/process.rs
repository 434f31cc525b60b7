//! The real gateway binary as a process, for the crash tests (tests/it/crash.rs) and the fault
//! tests (tests/faults.rs): its configuration file, start, health wait, SIGTERM, and the
//! sandbox carrier kept in the test process, so that it outlives the gateways and counts
//! their orders.

use super::TestDb;
use bcci_gateway::carrier::sandbox::{self, SandboxConfig, SandboxHandle};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The sandbox carrier in this process: journeys move only when told, answers take 20 ms.
pub async fn start_sandbox() -> SandboxHandle {
    let cfg = SandboxConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        step: Duration::ZERO,
        latency: Duration::from_millis(20),
        ..SandboxConfig::default()
    };
    let listener = std::net::TcpListener::bind(cfg.listen).unwrap();
    sandbox::start(cfg, listener).await.unwrap()
}

/// The carrier orders per reference (`saleOrderCode`): more than one is a duplicate order.
pub fn orders_per_reference(sandbox: &SandboxHandle) -> HashMap<String, usize> {
    let mut per_reference = HashMap::new();
    for o in sandbox.orders() {
        *per_reference.entry(o.sale_order_code).or_default() += 1;
    }
    per_reference
}

/// What differs between the tests' gateway processes.
pub struct Tuning {
    pub workers: u32,
    pub shutdown_timeout: &'static str,
    pub pool_size: u32,
    pub acquire_timeout: &'static str,
    pub shutdown_grace: &'static str,
    /// `BCCI_LOG` of the process; its log is shown (stderr) only when `show_log`.
    pub log: String,
    pub show_log: bool,
}

impl Default for Tuning {
    fn default() -> Tuning {
        Tuning {
            workers: 1,
            shutdown_timeout: "5s",
            pool_size: 10,
            acquire_timeout: "5s",
            shutdown_grace: "5s",
            log: "warn".into(),
            show_log: false,
        }
    }
}

/// A configuration file for the real binary: the test's database, the sandbox as a "real"
/// carrier (so that it outlives the gateway's crashes), short timeouts.
pub fn config_file(db: &TestDb, port: u16, sandbox: &SandboxHandle, t: &Tuning) -> PathBuf {
    let root = env!("CARGO_MANIFEST_DIR");
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
workers = {workers}
shutdown_timeout = "{shutdown_timeout}"
[database]
url = "{url}"
create_if_missing = false
pool_size = {pool_size}
acquire_timeout = "{acquire_timeout}"
[carrier]
kind = "vnpost"
base_url = "{base}"
connect_timeout = "1s"
timeout = "2s"
webhook_public_key_pem = "file:{root}/config/sandbox/carrier-push-public.pem"
[jobs]
poll_interval = "100ms"
lease = "30s"
reap_interval = "300ms"
retry_min = "100ms"
retry_max = "1s"
shutdown_grace = "{shutdown_grace}"
[tracking]
enabled = false
"#,
        url = db.url,
        base = sandbox.base_url(),
        workers = t.workers,
        shutdown_timeout = t.shutdown_timeout,
        pool_size = t.pool_size,
        acquire_timeout = t.acquire_timeout,
        shutdown_grace = t.shutdown_grace,
    );
    let path = std::env::temp_dir().join(format!("bcci-process-{}-{port}.toml", db.name));
    std::fs::write(&path, text).unwrap();
    path
}

/// A gateway process (`serve`), killed if still running when dropped.
pub struct Gateway {
    pub child: Child,
    pub config: PathBuf,
    pub base: String,
    log: String,
    show_log: bool,
}

impl Gateway {
    /// Starts the binary on a free port and waits until it answers.
    pub async fn start(db: &TestDb, sandbox: &SandboxHandle, t: &Tuning) -> Gateway {
        let g = Gateway::spawn(db, sandbox, t);
        g.wait_healthy().await;
        g
    }

    /// Starts the binary without waiting for it (see [`Gateway::wait_healthy`]).
    pub fn spawn(db: &TestDb, sandbox: &SandboxHandle, t: &Tuning) -> Gateway {
        let port = free_port();
        let config = config_file(db, port, sandbox, t);
        Gateway {
            child: spawn(&config, &t.log, t.show_log),
            config,
            base: format!("http://127.0.0.1:{port}"),
            log: t.log.clone(),
            show_log: t.show_log,
        }
    }

    pub async fn wait_healthy(&self) {
        wait_answering(&self.base, || {}).await;
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM only (several processes stopping at once); see [`Gateway::exited`].
    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit, successfully, within 30 s.
    pub async fn exited(&mut self) {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "exit status after SIGTERM: {status}");
                return;
            }
            assert!(Instant::now() < until, "no exit after SIGTERM");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, and the time it took to exit (successfully).
    pub async fn terminate(&mut self) -> Duration {
        let t = Instant::now();
        self.sigterm();
        self.exited().await;
        t.elapsed()
    }

    /// Starts the process again on the same port and configuration.
    pub async fn restart(&mut self) {
        self.child = spawn(&self.config, &self.log, self.show_log);
        self.wait_healthy().await;
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(config: &std::path::Path, log: &str, show_log: bool) -> Child {
    Command::new(env!("CARGO_BIN_EXE_bcci-gateway"))
        .args(["serve", "--config"])
        .arg(config)
        .env("BCCI_LOG", log)
        .stdout(Stdio::null())
        .stderr(if show_log {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .spawn()
        .expect("start the gateway binary")
}

/// The binary (`serve`) on a free port with `BCCI_LOG=<filter>`, its log kept in a file: for
/// the tests that read what it logs. Killed when dropped; its files are removed then, unless
/// the test failed.
pub struct Logging {
    pub child: Child,
    pub base: String,
    log: PathBuf,
    config: PathBuf,
}

impl Logging {
    /// `sections`: the configuration after `[server]` and `[database]` (the test's database);
    /// `name` names the files. Waits until it answers.
    pub async fn start(db: &TestDb, name: &str, sections: &str, filter: &str) -> Logging {
        let port = free_port();
        let dir = std::env::temp_dir();
        let config = dir.join(format!("bcci-{name}-{}.toml", db.name));
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\nworkers = 1\n\
                 [database]\nurl = \"{}\"\ncreate_if_missing = false\n{sections}",
                db.url
            ),
        )
        .unwrap();
        let log = dir.join(format!("bcci-{name}-{}.log", db.name));
        let child = Command::new(env!("CARGO_BIN_EXE_bcci-gateway"))
            .args(["serve", "--config"])
            .arg(&config)
            .env("BCCI_LOG", filter)
            // BCCI_* would be read as configuration (BCCI_SCREENSHOTS is the tests' own)
            .env_remove("DATABASE_URL")
            .env_remove("BCCI_SCREENSHOTS")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut g = Logging {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            config,
        };
        let base = g.base.clone();
        wait_answering(&base, || {
            if let Some(status) = g.child.try_wait().unwrap() {
                panic!(
                    "the gateway exited ({status}):\n{}",
                    std::fs::read_to_string(&g.log).unwrap_or_default()
                );
            }
        })
        .await;
        g
    }

    /// `POST /v1/pickups` as `token`, with the Idempotency-Key `key`.
    pub async fn create_pickup(
        &self,
        token: &str,
        key: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        let url = format!("{}/v1/pickups", self.base);
        super::send_create(&reqwest::Client::new(), url, token, key, body).await
    }

    /// SIGTERM, and what the process logged once it has exited.
    pub fn stop(&mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.log).unwrap()
    }
}

impl Drop for Logging {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // kept for a look when the test failed
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
            let _ = std::fs::remove_file(&self.config);
        }
    }
}

/// The first lines of a log that contain `needle`, for a failure message.
pub fn lines_with(log: &str, needle: &str) -> String {
    log.lines()
        .filter(|l| l.contains(needle))
        .take(5)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits (up to 30 s) until the gateway at `base` answers `/healthz`; `still_starting` runs
/// between tries and may fail the test early (the process exited, say).
async fn wait_answering(base: &str, mut still_starting: impl FnMut()) {
    let http = reqwest::Client::new();
    let until = Instant::now() + Duration::from_secs(30);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        still_starting();
        assert!(Instant::now() < until, "the gateway did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
