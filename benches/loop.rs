//! Benchmark of the whole gateway as real processes (issue 12): the release binary's `serve`
//! and `carrier-sim` in their own processes, load from outside, each goal printed beside a
//! baseline measured in the same run.
//!
//! a. Ingestion alone (jobs and tracking off): wrk, 32 connections, `BENCH_SECONDS` rounds,
//!    alternated with pgbench running the minimal durable transaction (`BEGIN; 4 INSERTs;
//!    COMMIT`, 32 clients, prepared); then pgbench running the gateway's own create statements.
//! b. The whole loop in balance (`BENCH_LOOP_SECONDS`): a paced client offers
//!    `BENCH_LOOP_RATE` pickups a second (latency counted from the scheduled send time, so
//!    queueing is included); jobs submit to `carrier-sim` (50 ms per call, journeys moving every
//!    `BENCH_LOOP_STEP`), which pushes every change back; every callback goes to a receiver in
//!    this process. Queue depth, callbacks and both processes' RSS are sampled every 5 s.
//! c. RSS with a backlog: `BENCH_BACKLOG` pickups created with jobs off, then the gateway
//!    restarted with jobs on; its RSS is sampled while the backlog drains.
//!
//! Every figure is printed as `ROW|scenario|measure|value|baseline|ratio|goal|met` (benches/run
//! collects these from this bench and benches/growth.rs), then as one markdown table, also
//! written to target/bench-loop.md.
//!
//! Run: `cargo bench --bench loop` (needs the local PostgreSQL, psql, pgbench and wrk; the
//! bench runs `apt-get install -y wrk` when wrk is missing and it is root).
//! Environment: BENCH_SECONDS (15), BENCH_ROUNDS (3), BENCH_LOOP_SECONDS (60),
//! BENCH_LOOP_RATE (500), BENCH_LOOP_STEP ("0s": orders frozen once submitted, so each shipment is
//! one submission, its first push and its callbacks; "2s" moves them along their journeys,
//! nine pushes and callbacks each), BENCH_BACKLOG (20000),
//! BENCH_BACKLOG_SECONDS (longest drain watched, 300), BENCH_BACKLOG_STEP ("0s": journeys
//! frozen while the backlog drains), BENCH_SCENARIOS (default "ingest,loop,backlog"),
//! BENCH_JOBS_TOML (`[jobs]` settings for the gateway, one per line; default none),
//! TEST_DATABASE_SERVER (postgres://postgres@127.0.0.1:5432).
//! Databases: loopbench_ingest, loopbench_loop, loopbench_backlog (dropped at the start of the
//! run, left afterwards for inspection).

#[path = "common/env.rs"]
mod env;
#[path = "common/pgbench.rs"]
mod pgbench;

use actix_web::{App, HttpResponse, HttpServer, web};
use env::env_or;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// `cargo bench` builds the binary with the bench (release) profile beside this bench.
const BIN: &str = env!("CARGO_BIN_EXE_bcci-gateway");
const CLIENT: &str = "motcua-tq";
/// The memory goal (issue 12 §4), in MB.
const RSS_GOAL_MB: f64 = 64.0;

// ---------------------------------------------------------------------------------------------
// Rows

struct Row {
    scenario: &'static str,
    measure: String,
    value: String,
    baseline: String,
    ratio: String,
    goal: String,
    met: String,
}

#[derive(Default)]
struct Table(Vec<Row>);

impl Table {
    /// Records a row and prints it at once as `ROW|…` (so a run cut short still shows it).
    /// One argument per column, in the table's order.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        scenario: &'static str,
        measure: impl Into<String>,
        value: impl Into<String>,
        baseline: impl Into<String>,
        ratio: impl Into<String>,
        goal: impl Into<String>,
        met: impl Into<String>,
    ) {
        let row = Row {
            scenario,
            measure: measure.into(),
            value: value.into(),
            baseline: baseline.into(),
            ratio: ratio.into(),
            goal: goal.into(),
            met: met.into(),
        };
        println!(
            "ROW|{}|{}|{}|{}|{}|{}|{}",
            row.scenario, row.measure, row.value, row.baseline, row.ratio, row.goal, row.met
        );
        self.0.push(row);
    }

    fn markdown(&self) -> String {
        let mut s = String::from(
            "| scenario | measure | value | baseline (same run) | ratio | goal | met? |\n|---|---|---|---|---|---|---|\n",
        );
        for r in &self.0 {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                r.scenario, r.measure, r.value, r.baseline, r.ratio, r.goal, r.met
            ));
        }
        s
    }
}

fn yes(ok: bool) -> String {
    String::from(if ok { "yes" } else { "no" })
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 && a.is_finite() {
        format!("{:.2}", a / b)
    } else {
        "-".into()
    }
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

// ---------------------------------------------------------------------------------------------
// Processes

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process of the bench (gateway or carrier-sim), stopped when dropped.
struct Proc {
    child: Child,
    name: String,
    log: PathBuf,
}

impl Proc {
    /// Runs `bcci-gateway <args> --config <config>` from the crate root (the sandbox's key
    /// paths are relative to it), its output in `<dir>/<name>.log`. Only this bench's
    /// configuration applies: inherited DATABASE_URL and BCCI_* variables are removed.
    fn spawn(dir: &Path, name: &str, args: &[&str], config: &Path) -> Proc {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .arg("--config")
            .arg(config)
            .current_dir(ROOT)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        cmd.env_remove("DATABASE_URL");
        for (k, _) in std::env::vars() {
            if k.starts_with("BCCI_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("BCCI_LOG", "warn");
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {BIN} {args:?}: {e}"));
        Proc {
            child,
            name: name.into(),
            log,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size now (VmRSS), in kB.
    fn rss_kb(&self) -> u64 {
        rss_of(self.pid())
    }

    fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            panic!(
                "{} exited ({status}); its log ({}):\n{}",
                self.name,
                self.log.display(),
                tail(&log, 40)
            );
        }
    }

    /// SIGTERM, then SIGKILL after 10 s.
    fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.terminate();
    }
}

fn tail(s: &str, lines: usize) -> String {
    let all: Vec<&str> = s.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Waits until `url` answers 200 (the gateway's /readyz: database created and migrated).
async fn wait_ready(proc: &mut Proc, url: &str) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        proc.assert_alive();
        if let Ok(r) = http.get(url).send().await
            && r.status() == 200
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} not ready at {url}",
            proc.name
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until something accepts connections on `port` (carrier-sim).
async fn wait_listening(proc: &mut Proc, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        proc.assert_alive();
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        assert!(Instant::now() < deadline, "{} not listening", proc.name);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration files

struct Ports {
    gateway: u16,
    sim: u16,
    receiver: u16,
}

/// The gateway's overlay: the sandbox as a real carrier in its own process (kind "vnpost",
/// its credentials and push key), the callbacks to this process's receiver. Pool sizes and
/// worker counts stay at the defaults of the binary under test, unless `BENCH_JOBS_TOML`
/// gives `[jobs]` settings to try (for example `pool_size = 4`).
fn gateway_config(dir: &Path, name: &str, p: &Ports, db_url: &str, jobs: bool) -> PathBuf {
    let tuning = std::env::var("BENCH_JOBS_TOML").unwrap_or_default();
    let text = format!(
        r#"[server]
listen = "127.0.0.1:{gw}"
public_url = "http://127.0.0.1:{gw}"

[database]
url = "{db_url}"
create_if_missing = true

[[clients]]
id = "{CLIENT}"
name = "Hệ thống một cửa điện tử (benchmark)"
callback_url = "http://127.0.0.1:{rx}/bcci/callbacks"
callback_secret = "whsec_ZGV2LW9ubHktY2FsbGJhY2stc2VjcmV0LWNoYW5nZS1tZQ=="

[carrier]
kind = "vnpost"
base_url = "http://127.0.0.1:{sim}"
username = "sandbox"
password = "sandbox"
customer_code = "SANDBOX"
webhook_mode = "signature"
webhook_public_key_pem = "file:{ROOT}/config/sandbox/carrier-push-public.pem"

[jobs]
enabled = {jobs}
{tuning}

[tracking]
enabled = {jobs}

[limits]
client_per_minute = 0
webhook_per_minute = 0
"#,
        gw = p.gateway,
        sim = p.sim,
        rx = p.receiver,
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// carrier-sim's overlay: `latency` per answer, journeys moving every `step`, no injected
/// errors, pushes to the gateway's webhook signed with the sandbox's development key.
fn sim_config(dir: &Path, name: &str, p: &Ports, latency: &str, step: &str) -> PathBuf {
    let text = format!(
        r#"[carrier.sandbox]
listen = "127.0.0.1:{sim}"
username = "sandbox"
password = "sandbox"
customer_code = "SANDBOX"
latency = "{latency}"
step = "{step}"
error_rate = 0.0
push_url = "http://127.0.0.1:{gw}/v1/carrier/vnpost/webhook"
push_mode = "signature"
push_signing_key = "{ROOT}/config/sandbox/carrier-push-private.pem"
"#,
        sim = p.sim,
        gw = p.gateway,
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// `bcci-gateway <args> --config <config>` run once from the crate root; its output. Fails with
/// the binary's own message (`what` says which call).
fn run_once(args: &[&str], config: &Path, what: &str) -> String {
    let out = Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .current_dir(ROOT)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `bcci-gateway check-config`: a wrong key fails here, with the binary's own message.
fn check_config(config: &Path) {
    run_once(
        &["check-config"],
        config,
        &format!("check-config {}", config.display()),
    );
}

/// A bearer token for the dossier system, minted by the binary with the gateway's secret.
fn mint_token(config: &Path) -> String {
    run_once(
        &[
            "token",
            "--sub",
            CLIENT,
            "--scopes",
            "shipments:write shipments:read",
        ],
        config,
        "token",
    )
    .trim()
    .to_owned()
}

// ---------------------------------------------------------------------------------------------
// Database

/// One psql statement; its output unaligned, tuples only.
async fn psql(db_url: &str, sql: &str) -> String {
    let out = tokio::process::Command::new("psql")
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            db_url,
            "-c",
            sql,
        ])
        .output()
        .await
        .expect("psql is installed");
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

async fn count(db_url: &str, sql: &str) -> u64 {
    psql(db_url, sql).await.parse().unwrap_or(0)
}

/// Prints the jobs per kind and state (where a queue that did not drain is stuck).
async fn print_jobs(db_url: &str) {
    let s = psql(
        db_url,
        "SELECT kind || ' ' || state || ': ' || count(*) FROM jobs GROUP BY kind, state ORDER BY 1",
    )
    .await;
    println!("  jobs by kind and state: {}", s.replace('\n', ", "));
}

const QUEUE_DEPTH: &str = "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')";

// ---------------------------------------------------------------------------------------------
// The callback receiver: answers 204, counts POSTs.

async fn start_receiver(port: u16, posts: Arc<AtomicU64>) -> actix_web::dev::ServerHandle {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let server = HttpServer::new(move || {
        let posts = posts.clone();
        App::new().default_service(web::to(
            move |req: actix_web::HttpRequest, _body: web::Bytes| {
                let posts = posts.clone();
                async move {
                    if req.method() == actix_web::http::Method::POST {
                        posts.fetch_add(1, Ordering::Relaxed);
                    }
                    HttpResponse::NoContent().finish()
                }
            },
        ))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    handle
}

// ---------------------------------------------------------------------------------------------
// Request bodies for the Rust clients (b, c): realistic, varying Vietnamese names, the same
// lists and weights as benches/loop.lua. Deterministic per request number.

const SURNAMES: &[(&str, f64)] = &[
    ("Nguyễn", 38.0),
    ("Trần", 11.0),
    ("Lê", 9.5),
    ("Phạm", 7.0),
    ("Hoàng", 3.0),
    ("Huỳnh", 2.0),
    ("Phan", 4.5),
    ("Vũ", 2.0),
    ("Võ", 1.9),
    ("Đặng", 2.1),
    ("Bùi", 2.0),
    ("Đỗ", 1.4),
    ("Hồ", 1.3),
    ("Ngô", 1.3),
    ("Dương", 1.0),
    ("Lý", 0.5),
    ("Đào", 1.1),
    ("Đinh", 1.1),
    ("Mai", 1.0),
    ("Trịnh", 1.1),
    ("Lương", 1.0),
    ("Hà", 1.1),
    ("Cao", 1.0),
    ("Lâm", 1.0),
    ("Tạ", 1.0),
    ("Triệu", 1.1),
];
const MIDDLES: &[&str] = &[
    "Văn", "Văn", "Văn", "Thị", "Thị", "Thị", "Đức", "Minh", "Ngọc", "Thanh", "Hữu", "Quang",
    "Thu", "Hoài", "Xuân", "Thùy", "Hồng", "Công", "Quốc", "Kim",
];
const GIVENS: &[&str] = &[
    "An", "Anh", "Bình", "Chi", "Cường", "Dũng", "Dung", "Duy", "Giang", "Hà", "Hải", "Hạnh",
    "Hằng", "Hiếu", "Hoa", "Hùng", "Hương", "Huy", "Khánh", "Lan", "Linh", "Long", "Mai", "Minh",
    "Nam", "Nga", "Ngọc", "Nhung", "Phong", "Phương", "Quân", "Quyên", "Sơn", "Tâm", "Thảo",
    "Thắng", "Thủy", "Trang", "Trung", "Tuấn", "Tùng", "Vân", "Việt", "Yến", "Hiền", "Lộc", "Đạt",
    "Khoa", "Loan", "Thành",
];
const COMMUNES: &[&str] = &[
    "02215", "00691", "00694", "00700", "00706", "00715", "00721", "00733", "00745", "00763",
    "00769", "00778",
];

/// splitmix64: a few well-mixed numbers per request, no state shared between tasks.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn full_name(seed: u64) -> String {
    let total: f64 = SURNAMES.iter().map(|s| s.1).sum();
    let mut x = (mix(seed) % 1_000_000) as f64 / 1_000_000.0 * total;
    let mut surname = SURNAMES[0].0;
    for (s, w) in SURNAMES {
        x -= w;
        if x <= 0.0 {
            surname = s;
            break;
        }
    }
    let r = mix(seed ^ 1);
    let mut name = surname.to_owned();
    // About one name in ten has no middle name, one in ten has two.
    let shape = r % 10;
    if shape > 0 {
        name += " ";
        name += MIDDLES[(r >> 8) as usize % MIDDLES.len()];
    }
    if shape == 9 {
        name += " ";
        name += MIDDLES[(r >> 16) as usize % MIDDLES.len()];
    }
    name += " ";
    name += GIVENS[(r >> 24) as usize % GIVENS.len()];
    name
}

/// Pickup number `n` of client stream `stream` (distinct streams never share a code or key).
fn pickup(stream: u64, n: u64) -> (String, serde_json::Value) {
    let r = mix((stream << 40) ^ n);
    let body = json!({
        "dossier_code": format!("{:03}.{:02}.{:02}.H61-2611{:02}-{:06}",
            900 + stream % 100, (n / 1_000_000) % 100, stream % 100, n % 28 + 1, n % 1_000_000),
        "office_code": "VPDKDD-TQ",
        "procedure": { "code": "1.004227", "name": "Đăng ký biến động quyền sử dụng đất" },
        "citizen": {
            "full_name": full_name(r),
            "phone": format!("09{:08}", r % 100_000_000),
            "email": null,
            "id_number": format!("0080{:08}", (r >> 20) % 100_000_000),
        },
        "address": {
            "line": format!("Số {}, tổ {}", r % 200 + 1, (r >> 8) % 30 + 1),
            "province_code": "08",
            "commune_code": COMMUNES[(r >> 12) as usize % COMMUNES.len()],
        },
        "documents": [ { "name": "Đơn đăng ký biến động", "copies": 1 } ],
        "collect_fees_vnd": 0,
        "note": null
    });
    (format!("rs-{stream}-{n}"), body)
}

// ---------------------------------------------------------------------------------------------
// Load generators

struct WrkResult {
    created: u64,
    failed: u64,
    seconds: f64,
    p50: Duration,
    p99: Duration,
}

impl WrkResult {
    fn rate(&self) -> f64 {
        self.created as f64 / self.seconds
    }
}

/// wrk is required; installed from Debian when missing (the bench may run as root).
fn ensure_wrk() {
    if Command::new("wrk").arg("--version").output().is_ok() {
        return;
    }
    println!("wrk is missing: apt-get install -y wrk");
    let ok = Command::new("apt-get")
        .args(["install", "-y", "wrk"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok || Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("error: wrk is not installed and could not be (apt-get install -y wrk as root)");
        std::process::exit(1);
    }
}

/// One wrk round: 2 threads, `connections` connections, every request a new pickup
/// (benches/loop.lua); 201s counted by the script's `response()` hook.
async fn run_wrk(base: &str, token: &str, connections: u64, seconds: u64, round: u32) -> WrkResult {
    let out = tokio::process::Command::new("wrk")
        .args(["-t", "2", "-c", &connections.to_string()])
        .args(["-d", &format!("{seconds}s"), "--timeout", "10s", "-s"])
        .arg(Path::new(ROOT).join("benches/loop.lua"))
        .arg(base)
        .args(["--", &round.to_string(), token])
        .output()
        .await
        .expect("wrk runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "wrk failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("WRK|{name}|")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("wrk printed no {name}: {text}"))
    };
    WrkResult {
        created: value("created"),
        failed: value("failed") + value("socket_errors"),
        seconds: value("duration_us") as f64 / 1e6,
        p50: Duration::from_micros(value("p50_us")),
        p99: Duration::from_micros(value("p99_us")),
    }
}

struct Load {
    created: u64,
    failed: u64,
    /// Why the failed requests failed (status or error kind), counted.
    why: std::collections::BTreeMap<String, u64>,
    seconds: f64,
    /// Latencies of the 201s, sorted.
    latencies: Vec<Duration>,
}

impl Load {
    fn fail(&mut self, why: String) {
        self.failed += 1;
        *self.why.entry(why).or_default() += 1;
    }

    /// The failures' reasons, for the table: "HTTP 503 × 2, connection × 1", or "-".
    fn reasons(&self) -> String {
        if self.why.is_empty() {
            return "-".into();
        }
        let parts: Vec<String> = self.why.iter().map(|(w, n)| format!("{w} × {n}")).collect();
        parts.join(", ")
    }

    fn pct(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        self.latencies[((self.latencies.len() as f64 * p) as usize).min(self.latencies.len() - 1)]
    }
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// One create; the error says why it failed (its status, or the kind of transport error).
async fn post_pickup(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    stream: u64,
    n: u64,
) -> Result<(), String> {
    let (key, body) = pickup(stream, n);
    let sent = http
        .post(format!("{base}/v1/pickups"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await;
    match sent {
        Ok(r) if r.status() == 201 => Ok(()),
        Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
        Err(e) if e.is_timeout() => Err("timeout".into()),
        Err(e) if e.is_connect() => Err("connect".into()),
        Err(e) => Err(format!(
            "transport: {}",
            std::error::Error::source(&e).map_or_else(|| e.to_string(), |s| s.to_string())
        )),
    }
}

/// Open-loop load: request `i` is due at `start + i / rate`, whatever the answers before it
/// (at most 1024 in flight); its latency runs from that due time, so time spent queued behind
/// a slow gateway counts (no coordinated omission).
async fn paced(base: &str, token: &str, stream: u64, rate: f64, seconds: f64) -> Load {
    let http = http_client();
    let gate = Arc::new(tokio::sync::Semaphore::new(1024));
    let total = (rate * seconds) as u64;
    let start = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..total {
        let due = start + Duration::from_secs_f64(n as f64 / rate);
        tokio::time::sleep_until(due).await;
        let permit = gate.clone().acquire_owned().await.unwrap();
        let (http, base, token) = (http.clone(), base.to_owned(), token.to_owned());
        tasks.spawn(async move {
            let result = post_pickup(&http, &base, &token, stream, n).await;
            drop(permit);
            (result, due.elapsed())
        });
    }
    let mut load = Load {
        created: 0,
        failed: 0,
        why: Default::default(),
        seconds: 0.0,
        latencies: Vec::with_capacity(total as usize),
    };
    while let Some(r) = tasks.join_next().await {
        match r.unwrap() {
            (Ok(()), latency) => {
                load.created += 1;
                load.latencies.push(latency);
            }
            (Err(why), _) => load.fail(why),
        }
    }
    load.seconds = start.elapsed().as_secs_f64();
    load.latencies.sort();
    load
}

/// Closed-loop: exactly `total` pickups by `concurrency` clients, as fast as they are answered.
async fn closed(base: &str, token: &str, stream: u64, total: u64, concurrency: u64) -> Load {
    let http = http_client();
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (http, base, token, next) = (
            http.clone(),
            base.to_owned(),
            token.to_owned(),
            next.clone(),
        );
        tasks.spawn(async move {
            let (mut ok, mut failed, mut latencies) = (0, Vec::new(), Vec::new());
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    break;
                }
                let t = Instant::now();
                match post_pickup(&http, &base, &token, stream, n).await {
                    Ok(()) => {
                        ok += 1;
                        latencies.push(t.elapsed());
                    }
                    Err(why) => failed.push(why),
                }
            }
            (ok, failed, latencies)
        });
    }
    let mut load = Load {
        created: 0,
        failed: 0,
        why: Default::default(),
        seconds: 0.0,
        latencies: Vec::new(),
    };
    while let Some(r) = tasks.join_next().await {
        let (ok, failed, latencies) = r.unwrap();
        load.created += ok;
        for why in failed {
            load.fail(why);
        }
        load.latencies.extend(latencies);
    }
    load.seconds = start.elapsed().as_secs_f64();
    load.latencies.sort();
    load
}

// ---------------------------------------------------------------------------------------------
// Scenarios

struct Bench {
    dir: PathBuf,
    server_url: String,
    receiver_port: u16,
    callbacks: Arc<AtomicU64>,
    table: Table,
    /// From scenario a, for the others' baselines.
    ingest_p99: Option<Duration>,
    ingest_rss_kb: Option<u64>,
}

impl Bench {
    fn ports(&self) -> Ports {
        Ports {
            gateway: free_port(),
            sim: free_port(),
            receiver: self.receiver_port,
        }
    }

    /// A scenario's start: its title printed, its database `name` dropped (the gateway creates
    /// it again), fresh ports. Returns the database's URL and the ports.
    async fn scenario(&self, title: &str, name: &str) -> (String, Ports) {
        println!("\n== {title} ==");
        psql(
            &format!("{}/postgres", self.server_url),
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )
        .await;
        (format!("{}/{name}", self.server_url), self.ports())
    }

    async fn gateway(&self, name: &str, config: &Path, port: u16) -> Proc {
        let mut gw = Proc::spawn(&self.dir, name, &["serve"], config);
        wait_ready(&mut gw, &format!("http://127.0.0.1:{port}/readyz")).await;
        gw
    }

    /// carrier-sim `name` (its overlay `sim-<name>.toml`, its log `carrier-sim-<name>.log`),
    /// started and listening.
    async fn sim(&self, name: &str, p: &Ports, latency: &str, step: &str) -> Proc {
        let config = sim_config(&self.dir, &format!("sim-{name}"), p, latency, step);
        let mut sim = Proc::spawn(
            &self.dir,
            &format!("carrier-sim-{name}"),
            &["carrier-sim"],
            &config,
        );
        wait_listening(&mut sim, p.sim).await;
        sim
    }

    /// a. Ingestion alone, alternated with pgbench's minimal transaction.
    async fn ingest(&mut self, seconds: u64, rounds: u32, clients: u64) {
        let (db, p) = self
            .scenario(
                &format!("a. ingestion alone: {rounds} rounds of {seconds} s, wrk {clients} connections, alternated with pgbench minimal"),
                "loopbench_ingest",
            )
            .await;
        let config = gateway_config(&self.dir, "ingest", &p, &db, false);
        check_config(&config);
        let token = mint_token(&config);
        let mut gw = self.gateway("gateway-ingest", &config, p.gateway).await;
        psql(&db, pgbench::MINIMAL_TABLES).await;
        let base = format!("http://127.0.0.1:{}", p.gateway);
        // Warm-up (connections, prepared statements), not counted.
        run_wrk(&base, &token, clients, 2, 0).await;

        let mut api = Vec::new();
        let mut minimal = Vec::new();
        let mut rss = 0;
        for round in 1..=rounds {
            let w = run_wrk(&base, &token, clients, seconds, round).await;
            gw.assert_alive();
            rss = rss.max(gw.rss_kb());
            let m = pgbench::run(
                &self.dir,
                "minimal",
                pgbench::MINIMAL_SCRIPT,
                &db,
                clients,
                seconds,
                pgbench::Protocol::Prepared,
            );
            println!(
                "round {round}: gateway {:.0}/s (p50 {}, p99 {}, {} failed) | pgbench minimal {:.0}/s (avg {:.1} ms, p99 {:.1} ms)",
                w.rate(),
                ms(w.p50),
                ms(w.p99),
                w.failed,
                m.tps,
                m.latency_avg_ms,
                m.latency_p99_ms
            );
            api.push(w);
            minimal.push(m);
        }
        for (i, (w, m)) in api.iter().zip(&minimal).enumerate() {
            let r = w.rate() / m.tps;
            self.table.add(
                "ingest",
                format!("creates/s, round {}", i + 1),
                format!("{:.0}", w.rate()),
                format!("{:.0}/s pgbench minimal, round {}", m.tps, i + 1),
                format!("{r:.2}"),
                "≥ 0.8 (at least 0.6)",
                if r >= 0.8 {
                    "yes"
                } else if r >= 0.6 {
                    "partly (≥ 0.6)"
                } else {
                    "no"
                },
            );
        }
        let p99s: Vec<String> = api.iter().map(|w| ms(w.p99)).collect();
        let worst = api.iter().map(|w| w.p99).max().unwrap_or_default();
        self.ingest_p99 = Some(worst);
        self.table.add(
            "ingest",
            "API p99 per round",
            p99s.join(" / "),
            format!(
                "pgbench minimal p99 {} (avg {})",
                minimal
                    .iter()
                    .map(|m| format!("{:.1} ms", m.latency_p99_ms))
                    .collect::<Vec<_>>()
                    .join(" / "),
                minimal
                    .iter()
                    .map(|m| format!("{:.1} ms", m.latency_avg_ms))
                    .collect::<Vec<_>>()
                    .join(" / ")
            ),
            "-",
            "< 50 ms",
            yes(worst < Duration::from_millis(50)),
        );
        let (first, last) = (api[0].rate(), api[api.len() - 1].rate());
        let drift = (last - first) / first * 100.0;
        let pg_drift = (minimal[minimal.len() - 1].tps - minimal[0].tps) / minimal[0].tps * 100.0;
        self.table.add(
            "ingest",
            "drift first → last round",
            format!("{drift:+.0} % ({first:.0} → {last:.0})"),
            format!("pgbench minimal {pg_drift:+.0} %"),
            "-",
            "flat (≥ −20 %)",
            yes(drift >= -20.0),
        );
        let failed: u64 = api.iter().map(|w| w.failed).sum();
        self.table.add(
            "ingest",
            "failed requests (non-201, socket errors)",
            failed.to_string(),
            "-",
            "-",
            "0",
            yes(failed == 0),
        );

        // Today's comparison: pgbench running the gateway's own create statements (after the
        // rounds: it adds to the same tables).
        let mean = api.iter().map(|w| w.rate()).sum::<f64>() / api.len() as f64;
        // The same kind of varied names as the API rounds (500 of them, surnames weighted).
        let names: Vec<String> = (0..500).map(|i| full_name(mix(i))).collect();
        for (pipelined, label) in [(true, "pipelined like the gateway"), (false, "one by one")] {
            let g = pgbench::run(
                &self.dir,
                "gateway-statements",
                &pgbench::create_script_with_names(pipelined, &names),
                &db,
                clients,
                seconds,
                pgbench::Protocol::Prepared,
            );
            self.table.add(
                "ingest",
                format!("creates/s (mean of rounds) vs pgbench gateway statements, {label}"),
                format!("{mean:.0}"),
                format!("{:.0}/s (avg {:.1} ms)", g.tps, g.latency_avg_ms),
                ratio(mean, g.tps),
                "-",
                "n/a",
            );
        }
        self.ingest_rss_kb = Some(rss);
        self.table.add(
            "ingest",
            "gateway RSS (max at round ends)",
            mb(rss),
            "-",
            "-",
            format!("≤ {RSS_GOAL_MB} MB"),
            yes((rss as f64 / 1024.0) <= RSS_GOAL_MB),
        );
        gw.stop();
    }

    /// b. The whole loop in balance at a fixed offered rate.
    async fn whole_loop(&mut self, seconds: u64, rate: f64, step: &str) {
        let (db, p) = self
            .scenario(
                &format!("b. whole loop: {seconds} s at {rate:.0} pickups/s offered, carrier-sim 50 ms, journeys every {step}"),
                "loopbench_loop",
            )
            .await;
        let config = gateway_config(&self.dir, "loop", &p, &db, true);
        check_config(&config);
        let token = mint_token(&config);
        let mut sim = self.sim("loop", &p, "50ms", step).await;
        let mut gw = self.gateway("gateway-loop", &config, p.gateway).await;
        let base = format!("http://127.0.0.1:{}", p.gateway);

        // Warm-up at the same rate for 2 s (its shipments stay in the loop).
        paced(&base, &token, 1, rate, 2.0).await;
        let callbacks0 = self.callbacks.load(Ordering::Relaxed);
        let written0 = count(&db, "SELECT count(*) FROM callbacks").await;
        let submitted0 = count(
            &db,
            "SELECT count(*) FROM jobs WHERE kind = 'carrier_submit' AND state = 'done'",
        )
        .await;
        let pids = (gw.pid(), sim.pid());

        // Sampler: every 5 s while the load runs.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sampler = {
            let (db, stop, callbacks) = (db.clone(), stop.clone(), self.callbacks.clone());
            tokio::spawn(async move {
                let mut samples = Vec::new();
                let start = Instant::now();
                loop {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let depth = count(&db, QUEUE_DEPTH).await;
                    let cb = callbacks.load(Ordering::Relaxed) - callbacks0;
                    let (g, s) = (rss_of(pids.0), rss_of(pids.1));
                    println!(
                        "  t={:>3.0}s queue {depth:>6} | callbacks {cb:>7} | gateway RSS {} | carrier-sim RSS {}",
                        start.elapsed().as_secs_f64(),
                        mb(g),
                        mb(s)
                    );
                    samples.push((depth, g, s));
                }
                samples
            })
        };
        let load = paced(&base, &token, 2, rate, seconds as f64).await;
        stop.store(true, Ordering::Relaxed);
        let samples = sampler.await.unwrap();
        gw.assert_alive();
        sim.assert_alive();
        let elapsed = load.seconds;
        let callbacks = self.callbacks.load(Ordering::Relaxed) - callbacks0;
        let written = count(&db, "SELECT count(*) FROM callbacks").await - written0;
        let submitted = count(
            &db,
            "SELECT count(*) FROM jobs WHERE kind = 'carrier_submit' AND state = 'done'",
        )
        .await
            - submitted0;
        // End to end: created, submitted to the carrier, and every status change so far called
        // back to the receiver.
        let through = count(
            &db,
            "SELECT count(*) FROM shipments s WHERE s.status <> 'requested' AND NOT EXISTS \
             (SELECT 1 FROM callbacks c WHERE c.shipment_id = s.id AND c.state <> 'delivered')",
        )
        .await;
        let total_created = count(&db, "SELECT count(*) FROM shipments").await;
        print_jobs(&db).await;

        let creates = load.created as f64 / elapsed;
        self.table.add(
            "loop",
            "creates/s sustained",
            format!("{creates:.0}"),
            format!("{rate:.0}/s offered"),
            ratio(creates, rate),
            "= offered, 0 failed",
            yes(creates >= 0.98 * rate && load.failed == 0),
        );
        self.table.add(
            "loop",
            "failed requests (why in the baseline column)",
            load.failed.to_string(),
            load.reasons(),
            "-",
            "0",
            yes(load.failed == 0),
        );
        let submitted_rate = submitted as f64 / elapsed;
        self.table.add(
            "loop",
            "orders submitted to carrier-sim /s",
            format!("{submitted_rate:.0}"),
            format!("{creates:.0}/s created"),
            ratio(submitted_rate, creates),
            "≈ creates/s (≥ 0.95)",
            yes(submitted_rate >= 0.95 * creates),
        );
        let cb_rate = callbacks as f64 / elapsed;
        self.table.add(
            "loop",
            "callbacks received /s",
            format!("{cb_rate:.0}"),
            format!("{:.0}/s written (status changes)", written as f64 / elapsed),
            ratio(callbacks as f64, written as f64),
            "≈ written (≥ 0.95)",
            yes(callbacks as f64 >= 0.95 * written as f64),
        );
        let p99 = load.pct(0.99);
        self.table.add(
            "loop",
            "API p50 / p99 (from the due time, queueing included)",
            format!("{} / {}", ms(load.pct(0.50)), ms(p99)),
            self.ingest_p99
                .map(|d| format!("ingestion alone p99 {}", ms(d)))
                .unwrap_or("-".into()),
            self.ingest_p99
                .map(|d| ratio(p99.as_secs_f64(), d.as_secs_f64()))
                .unwrap_or("-".into()),
            "p99 < 50 ms",
            yes(p99 < Duration::from_millis(50)),
        );
        let depths: Vec<u64> = samples.iter().map(|s| s.0).collect();
        let (first, last) = (
            depths.first().copied().unwrap_or(0),
            depths.last().copied().unwrap_or(0),
        );
        let max = depths.iter().copied().max().unwrap_or(0);
        // Flat: the queue grew by less than 5 % of the offered rate between the first and the
        // last sample (a queue that keeps up stays within a second or two of work).
        let span = 5.0 * depths.len().saturating_sub(1) as f64;
        let growth = if span > 0.0 {
            (last as f64 - first as f64) / span
        } else {
            0.0
        };
        self.table.add(
            "loop",
            "queue depth first → last (max), every 5 s",
            format!("{first} → {last} (max {max}), {growth:+.0} jobs/s"),
            format!("{rate:.0}/s offered"),
            ratio(growth, rate),
            "flat (growth < 5 % of offered)",
            yes(growth < 0.05 * rate),
        );
        let gw_max = samples.iter().map(|s| s.1).max().unwrap_or(0);
        let sim_max = samples.iter().map(|s| s.2).max().unwrap_or(0);
        self.table.add(
            "loop",
            "gateway RSS max",
            mb(gw_max),
            self.ingest_rss_kb
                .map(|k| format!("ingestion alone {}", mb(k)))
                .unwrap_or("-".into()),
            self.ingest_rss_kb
                .map(|k| ratio(gw_max as f64, k as f64))
                .unwrap_or("-".into()),
            format!("≤ {RSS_GOAL_MB} MB"),
            yes((gw_max as f64 / 1024.0) <= RSS_GOAL_MB),
        );
        self.table.add(
            "loop",
            "carrier-sim RSS max (own process, not the gateway's)",
            mb(sim_max),
            "-",
            "-",
            "-",
            "n/a",
        );
        let e2e = through as f64 / elapsed;
        self.table.add(
            "loop",
            "shipments/s end to end (submitted, every change called back)",
            format!("{e2e:.0} ({through} of {total_created})"),
            format!("{rate:.0}/s offered"),
            ratio(e2e, rate),
            "≥ 500/s",
            yes(e2e >= 500.0),
        );
        gw.stop();
        sim.stop();
    }

    /// c. RSS while a backlog of carrier submissions drains.
    async fn backlog(&mut self, n: u64, max_seconds: u64, step: &str) {
        let (db, p) = self
            .scenario(
                &format!("c. backlog: {n} pickups created with jobs off, then drained (carrier-sim 50 ms, journeys every {step})"),
                "loopbench_backlog",
            )
            .await;
        let off = gateway_config(&self.dir, "backlog-off", &p, &db, false);
        let on = gateway_config(&self.dir, "backlog-on", &p, &db, true);
        check_config(&on);
        let token = mint_token(&off);
        let base = format!("http://127.0.0.1:{}", p.gateway);
        let gw = self.gateway("gateway-backlog-fill", &off, p.gateway).await;
        let fill = closed(&base, &token, 3, n, 32).await;
        println!(
            "  created {} in {:.0} s ({} failed)",
            fill.created, fill.seconds, fill.failed
        );
        gw.stop();

        let mut sim = self.sim("backlog", &p, "50ms", step).await;
        let queued = count(&db, QUEUE_DEPTH).await;
        let mut gw = self.gateway("gateway-backlog-drain", &on, p.gateway).await;
        let idle = gw.rss_kb();
        let start = Instant::now();
        let mut max_rss = idle;
        let mut depth = queued;
        let mut next_print = 0.0;
        while start.elapsed() < Duration::from_secs(max_seconds) {
            tokio::time::sleep(Duration::from_secs(1)).await;
            gw.assert_alive();
            max_rss = max_rss.max(gw.rss_kb());
            depth = count(&db, QUEUE_DEPTH).await;
            let t = start.elapsed().as_secs_f64();
            if t >= next_print {
                println!(
                    "  t={t:>3.0}s queue {depth:>6} | gateway RSS {} (max {}) | carrier-sim RSS {}",
                    mb(gw.rss_kb()),
                    mb(max_rss),
                    mb(sim.rss_kb())
                );
                next_print += 5.0;
            }
            if depth == 0 {
                break;
            }
        }
        let drain = start.elapsed().as_secs_f64();
        sim.assert_alive();
        print_jobs(&db).await;
        self.table.add(
            "backlog",
            format!("gateway RSS max while {queued} jobs drain"),
            mb(max_rss),
            format!("{} at start", mb(idle)),
            ratio(max_rss as f64, idle as f64),
            format!("≤ {RSS_GOAL_MB} MB"),
            yes((max_rss as f64 / 1024.0) <= RSS_GOAL_MB),
        );
        self.table.add(
            "backlog",
            "drain time (queue to 0)",
            if depth == 0 {
                format!("{drain:.0} s")
            } else {
                format!("not drained: {depth} left after {drain:.0} s")
            },
            format!("{queued} jobs queued"),
            "-",
            "-",
            "n/a",
        );
        gw.stop();
        sim.stop();
    }

    /// Svix: not buildable here (svix-server is not on crates.io; no network beyond the
    /// package registries). Said so, not estimated.
    fn svix(&mut self) {
        for (measure, goal) in [
            (
                "store and acknowledge: gateway ÷ Svix (gateway jobs off, Svix no endpoint)",
                "≥ 1.0",
            ),
            (
                "with outbound work: gateway ÷ Svix (loop on, Svix to a dead endpoint)",
                "≥ 2.5",
            ),
        ] {
            self.table.add(
                "svix",
                measure,
                "not measured",
                "not measured: svix-server cannot be built here (not on crates.io, no network)",
                "-",
                goal,
                "n/a",
            );
        }
    }
}

/// VmRSS of a process, in kB (0 once it is gone).
fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    if !Path::new(BIN).exists() {
        eprintln!(
            "error: the release binary {BIN} is missing (`cargo bench --bench loop` builds it)"
        );
        std::process::exit(1);
    }
    ensure_wrk();
    let seconds: u64 = env_or("BENCH_SECONDS", 15);
    let rounds: u32 = env_or("BENCH_ROUNDS", 3).max(1);
    let clients: u64 = env_or("BENCH_CLIENTS", 32);
    let loop_seconds: u64 = env_or("BENCH_LOOP_SECONDS", 60);
    let loop_rate: f64 = env_or("BENCH_LOOP_RATE", 500.0);
    let loop_step: String = env_or("BENCH_LOOP_STEP", "0s".to_owned());
    let backlog: u64 = env_or("BENCH_BACKLOG", 20_000);
    let backlog_seconds: u64 = env_or("BENCH_BACKLOG_SECONDS", 300);
    let backlog_step: String = env_or("BENCH_BACKLOG_STEP", "0s".to_owned());
    let scenarios: String = env_or("BENCH_SCENARIOS", "ingest,loop,backlog".to_owned());
    let server_url = std::env::var("TEST_DATABASE_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());

    let dir = std::env::temp_dir().join(format!("bcci-loopbench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!(
        "loop: binary {BIN}, PostgreSQL {server_url}, configs and logs in {}",
        dir.display()
    );
    let callbacks = Arc::new(AtomicU64::new(0));
    let receiver_port = free_port();
    let receiver = start_receiver(receiver_port, callbacks.clone()).await;

    let mut bench = Bench {
        dir: dir.clone(),
        server_url,
        receiver_port,
        callbacks,
        table: Table::default(),
        ingest_p99: None,
        ingest_rss_kb: None,
    };
    let on = |s: &str| scenarios.split(',').any(|x| x.trim() == s);
    if on("ingest") {
        bench.ingest(seconds, rounds, clients).await;
    }
    if on("loop") {
        bench.whole_loop(loop_seconds, loop_rate, &loop_step).await;
    }
    if on("backlog") {
        bench.backlog(backlog, backlog_seconds, &backlog_step).await;
    }
    bench.svix();
    receiver.stop(true).await;

    let tuning = match std::env::var("BENCH_JOBS_TOML") {
        Ok(t) if !t.trim().is_empty() => format!(" BENCH_JOBS_TOML={t:?}"),
        _ => String::new(),
    };
    let md = format!(
        "Loop benchmark (benches/loop.rs), {}: BENCH_SECONDS={seconds} BENCH_ROUNDS={rounds} BENCH_LOOP_SECONDS={loop_seconds} BENCH_LOOP_RATE={loop_rate} BENCH_LOOP_STEP={loop_step} BENCH_BACKLOG={backlog}{tuning}\n\n{}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        bench.table.markdown()
    );
    println!("\n{md}");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(ROOT).join("target"));
    let out = target.join("bench-loop.md");
    match std::fs::write(&out, &md) {
        Ok(()) => println!("written to {}", out.display()),
        Err(e) => eprintln!("could not write {}: {e}", out.display()),
    }
}
