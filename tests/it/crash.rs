//! Crashes and several processes (issue: exactly one carrier order per shipment, whatever
//! fails). The real binary is started, killed with SIGKILL while shipments are being created
//! and submitted, and restarted; or two processes share one database.

use crate::support::*;
use bcci_gateway::carrier::sandbox::{self, SandboxConfig, SandboxHandle};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_sandbox() -> SandboxHandle {
    let cfg = SandboxConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        step: Duration::ZERO,
        latency: Duration::from_millis(20),
        ..SandboxConfig::default()
    };
    let listener = std::net::TcpListener::bind(cfg.listen).unwrap();
    sandbox::start(cfg, listener).await.unwrap()
}

/// A configuration file for the real binary: this test's database, the sandbox as a "real"
/// carrier (so that it outlives the gateway's crashes), short timeouts.
fn config_file(db: &TestDb, port: u16, sandbox: &SandboxHandle) -> std::path::PathBuf {
    let root = env!("CARGO_MANIFEST_DIR");
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
workers = 1
shutdown_timeout = "5s"
[database]
url = "{url}"
create_if_missing = false
pool_size = 10
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
shutdown_grace = "5s"
[tracking]
enabled = false
"#,
        url = db.url,
        base = sandbox.base_url(),
    );
    let path = std::env::temp_dir().join(format!("bcci-crash-{}-{port}.toml", db.name));
    std::fs::write(&path, text).unwrap();
    path
}

fn spawn(config: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_bcci-gateway"))
        .args(["serve", "--config"])
        .arg(config)
        .env("BCCI_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the gateway binary")
}

async fn wait_healthy(http: &reqwest::Client, base: &str) {
    let until = Instant::now() + Duration::from_secs(20);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < until, "the gateway did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Creates `n` pickups through `bases` (round robin), each request retried with its key
/// until it gets its 201, whatever happens to the servers meanwhile.
async fn create_all(http: &reqwest::Client, bases: &[String], token: &str, n: u32, offset: u32) {
    let work = (0..n).map(|i| {
        let (http, token) = (http.clone(), token.to_owned());
        let base = bases[i as usize % bases.len()].clone();
        async move {
            let body = pickup_body(&dossier(offset + i));
            loop {
                let resp = http
                    .post(format!("{base}/v1/pickups"))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", format!("crash-{}", offset + i))
                    .json(&body)
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status() == 201 => return,
                    Ok(r) if r.status().is_client_error() && r.status() != 409 => {
                        panic!("refused: {}", r.status())
                    }
                    _ => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        }
    });
    futures::stream::iter(work)
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
}

use futures::StreamExt;

async fn wait_all_submitted(db: &TestDb, n: i64, within: Duration) {
    let until = Instant::now() + within;
    loop {
        let done = db
            .count("SELECT count(*) FROM shipments WHERE status = 'submitted'")
            .await;
        if done == n {
            return;
        }
        assert!(Instant::now() < until, "{done} of {n} submitted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn assert_one_order_each(sandbox: &SandboxHandle, n: usize) {
    let mut per_reference: HashMap<String, usize> = HashMap::new();
    for o in sandbox.orders() {
        *per_reference.entry(o.sale_order_code).or_default() += 1;
    }
    let dupes: Vec<_> = per_reference.iter().filter(|(_, c)| **c > 1).collect();
    assert!(dupes.is_empty(), "duplicate carrier orders: {dupes:?}");
    assert_eq!(per_reference.len(), n);
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_again_and_again_while_submitting_500_shipments() {
    let sandbox = start_sandbox().await;
    let db = TestDb::new().await;
    let port = free_port();
    let config = config_file(&db, port, &sandbox);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let cfg = bcci_gateway::config::Config::from_overlay("").unwrap();
    let token = bcci_gateway::auth::mint(
        &cfg.auth,
        &bcci_gateway::auth::claims_for(
            &cfg.auth,
            "motcua-tq",
            &["shipments:write"],
            None,
            None,
            chrono::Duration::hours(1),
        ),
    )
    .unwrap();

    let mut child = spawn(&config);
    wait_healthy(&http, &base).await;
    let creating = tokio::spawn({
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        async move { create_all(&http, &[base], &token, 500, 5000).await }
    });
    // kill -9 five times while shipments are created and submitted, restarting each time
    for round in 0..5 {
        tokio::time::sleep(Duration::from_millis(600 + 150 * round)).await;
        child.kill().unwrap();
        child.wait().unwrap();
        child = spawn(&config);
        wait_healthy(&http, &base).await;
    }
    creating.await.unwrap();
    wait_all_submitted(&db, 500, Duration::from_secs(90)).await;

    assert_eq!(
        db.count("SELECT count(*) FROM shipments").await,
        500,
        "a retried create made a second shipment"
    );
    assert_one_order_each(&sandbox, 500);
    assert_eq!(
        db.count("SELECT count(*) FROM jobs WHERE kind = 'carrier_submit' AND state <> 'done'")
            .await,
        0,
        "a job is stuck"
    );
    // the crashes really interrupted work: some attempts were taken over from dead workers
    let workers = db
        .count("SELECT count(DISTINCT worker) FROM job_attempts")
        .await;
    assert!(workers >= 2, "only {workers} worker(s) ever ran jobs");
    let taken_over = db
        .count("SELECT count(*) FROM jobs WHERE last_error = 'worker lost'")
        .await;
    let looked_up = db
        .count("SELECT count(*) FROM shipment_events WHERE note LIKE 'order found at the carrier%'")
        .await;
    eprintln!(
        "crash test: {workers} workers, {taken_over} jobs taken over from killed workers, {looked_up} orders found by reference instead of created again"
    );
    assert!(
        taken_over > 0,
        "no kill interrupted a job: the test proved nothing"
    );

    // a graceful stop ends the process cleanly
    sigterm(&child);
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(Instant::now() < until, "no exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        db.count("SELECT count(*) FROM jobs WHERE state = 'running'")
            .await,
        0,
        "SIGTERM left a job claimed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_1000_shipments_without_a_duplicate_order() {
    let sandbox = start_sandbox().await;
    let db = TestDb::new().await;
    let (p1, p2) = (free_port(), free_port());
    let (c1, c2) = (
        config_file(&db, p1, &sandbox),
        config_file(&db, p2, &sandbox),
    );
    let mut a = spawn(&c1);
    let mut b = spawn(&c2);
    let bases = vec![
        format!("http://127.0.0.1:{p1}"),
        format!("http://127.0.0.1:{p2}"),
    ];
    let http = reqwest::Client::new();
    for base in &bases {
        wait_healthy(&http, base).await;
    }
    let cfg = bcci_gateway::config::Config::from_overlay("").unwrap();
    let token = bcci_gateway::auth::mint(
        &cfg.auth,
        &bcci_gateway::auth::claims_for(
            &cfg.auth,
            "motcua-tq",
            &["shipments:write"],
            None,
            None,
            chrono::Duration::hours(1),
        ),
    )
    .unwrap();
    create_all(&http, &bases, &token, 1000, 7000).await;
    wait_all_submitted(&db, 1000, Duration::from_secs(90)).await;
    assert_one_order_each(&sandbox, 1000);
    let workers = db.count("SELECT count(DISTINCT worker) FROM job_attempts a JOIN jobs j ON j.id = a.job_id WHERE j.kind = 'carrier_submit'").await;
    assert_eq!(workers, 2, "both processes should have submitted orders");
    assert_eq!(db.count("SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id WHERE j.kind = 'carrier_submit'").await, 1000, "a job ran twice");
    for c in [&a, &b] {
        sigterm(c);
    }
    a.wait().unwrap();
    b.wait().unwrap();
}
