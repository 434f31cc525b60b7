//! Outages survived, measured (issue 11 §4): the real gateway binary, the sandbox carrier and
//! the real PostgreSQL, under load, while something fails.
//!
//! ```sh
//! cargo test --test faults -- --ignored --nocapture --test-threads=1
//! FAULTS_SHORT=1 cargo test --test faults -- --ignored --nocapture --test-threads=1   # CI
//! ```
//!
//! The tests are `#[ignore]`d so that `cargo test` skips them: the first one stops the shared
//! PostgreSQL server, which breaks whatever else runs against it. Each prints its figures.

#[path = "it/support/mod.rs"]
mod support;

use bcci_gateway::carrier::sandbox::SandboxHandle;
use futures::StreamExt;
use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::process::{Gateway, Tuning, orders_per_reference, start_sandbox};
use support::*;

/// `FAULTS_SHORT=1`: smaller counts and durations, for CI.
fn short() -> bool {
    std::env::var("FAULTS_SHORT").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// How long a request may wait for a database connection (`database.acquire_timeout` of the
/// gateways started here): no answer may take much longer than this, outage or not.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
/// A client gives up on a request (and counts it as hung) after this.
const HANG: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// PostgreSQL, stopped and always started again

/// The version of the local cluster `main` (`/etc/postgresql/<version>/main`), newest first.
fn pg_version() -> String {
    if let Ok(v) = std::env::var("FAULTS_PG_VERSION") {
        return v;
    }
    let mut versions: Vec<(u32, String)> = std::fs::read_dir("/etc/postgresql")
        .expect("/etc/postgresql: the fault tests need a local Debian PostgreSQL cluster")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("main").is_dir())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            Some((name.split('.').next()?.parse().ok()?, name))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("no cluster `main` under /etc/postgresql")
        .1
}

fn pg_ctl(version: &str, action: &str) -> std::process::ExitStatus {
    Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", version, "main", action])
        .stdout(Stdio::null())
        .status()
        .expect("run pg_ctlcluster")
}

/// PostgreSQL stopped; started again when dropped, even if the test panics. A detached
/// watchdog starts it too if this process dies without unwinding (SIGKILL, a timeout).
struct PgStopped {
    version: String,
    started: bool,
    /// `setsid sh -c 'sleep …; pg_ctlcluster … start'`, its own process group.
    watchdog: Child,
}

impl PgStopped {
    /// Stops the cluster (fast mode: sessions are terminated), for at most `within` (the
    /// watchdog's delay).
    fn stop(within: Duration) -> PgStopped {
        let version = pg_version();
        // Armed before the stop: it runs even if this process is killed.
        let watchdog = format!(
            "sleep {}; pg_ctlcluster --skip-systemctl-redirect {version} main start >/dev/null 2>&1",
            within.as_secs()
        );
        let watchdog = Command::new("setsid")
            .args(["sh", "-c", &watchdog])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the PostgreSQL watchdog");
        let guard = PgStopped {
            version,
            started: false,
            watchdog,
        };
        let status = pg_ctl(&guard.version, "stop");
        assert!(status.success(), "pg_ctlcluster stop: {status}");
        guard
    }

    fn start(mut self) {
        self.started = true;
        let status = pg_ctl(&self.version, "start");
        assert!(status.success(), "pg_ctlcluster start: {status}");
    }

    /// Disarms the watchdog (its process group), so that it cannot start PostgreSQL in the
    /// middle of a later stop.
    fn disarm(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.watchdog.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.watchdog.wait();
    }
}

impl Drop for PgStopped {
    fn drop(&mut self) {
        if !self.started {
            // Not asserted: this may run while panicking.
            let status = pg_ctl(&self.version, "start");
            eprintln!("PostgreSQL started again by the guard: {status}");
        }
        self.disarm();
    }
}

// ---------------------------------------------------------------------------------------------
// The gateway binary and the sandbox carrier

/// The gateways of these tests: two workers, a short wait for a database connection, logs
/// shown with `FAULTS_LOG=<level>`.
fn tuning() -> Tuning {
    Tuning {
        workers: 2,
        shutdown_timeout: "10s",
        pool_size: 16,
        acquire_timeout: "2s", // ACQUIRE_TIMEOUT
        shutdown_grace: "10s",
        log: std::env::var("FAULTS_LOG").unwrap_or("error".into()),
        show_log: std::env::var("FAULTS_LOG").is_ok(),
    }
}

fn client_token() -> String {
    default_token("motcua-tq", &["shipments:write", "shipments:read"])
}

// ---------------------------------------------------------------------------------------------
// What every test checks at the end

/// Waits until every shipment is submitted and every submission job done, then checks that
/// the carrier holds exactly one order per shipment. Returns (shipments, orders, duplicates).
async fn check_dispatch(db: &TestDb, sandbox: &SandboxHandle) -> (i64, usize, usize) {
    let until = Instant::now() + Duration::from_secs(if short() { 60 } else { 120 });
    let shipments = db.count("SELECT count(*) FROM shipments").await;
    loop {
        let pending = db
            .count("SELECT count(*) FROM jobs WHERE kind = 'carrier_submit' AND state <> 'done'")
            .await;
        let submitted = db
            .count("SELECT count(*) FROM shipments WHERE status = 'submitted'")
            .await;
        if pending == 0 && submitted == shipments {
            break;
        }
        assert!(
            Instant::now() < until,
            "{submitted} of {shipments} shipments submitted, {pending} submission job(s) not done"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let jobs = db
        .count("SELECT count(*) FROM jobs WHERE kind = 'carrier_submit'")
        .await;
    assert_eq!(jobs, shipments, "one submission job per shipment");
    let per_reference = orders_per_reference(sandbox);
    let orders: usize = per_reference.values().sum();
    let duplicates = orders - per_reference.len();
    (shipments, orders, duplicates)
}

/// Where a run ends, once every shipment is dispatched ([`check_dispatch`]).
#[derive(Debug, Clone, Copy)]
struct End {
    shipments: i64,
    orders: usize,
    duplicates: usize,
    /// Shipments answered 201 (or 200) that the ledger does not hold.
    missing: usize,
}

/// The end of a run whose clients were `answered` these shipment ids.
async fn end_of_run<'a>(
    db: &TestDb,
    sandbox: &SandboxHandle,
    answered: impl IntoIterator<Item = &'a String>,
) -> End {
    let in_ledger = ledger_ids(db).await;
    let missing = answered
        .into_iter()
        .filter(|id| !in_ledger.contains(*id))
        .count();
    let (shipments, orders, duplicates) = check_dispatch(db, sandbox).await;
    End {
        shipments,
        orders,
        duplicates,
        missing,
    }
}

impl End {
    /// (shipments, carrier orders, duplicate orders, answered shipments missing), for the
    /// summary line.
    fn counts(&self) -> (i64, usize, usize, usize) {
        (self.shipments, self.orders, self.duplicates, self.missing)
    }

    /// Each of `keys` idempotency keys made exactly one shipment, kept, with one carrier order.
    fn assert_exactly_once(&self, keys: usize) {
        assert_eq!(
            self.missing, 0,
            "answered shipments missing from the ledger"
        );
        assert_eq!(
            self.shipments as usize, keys,
            "one shipment per key, none lost or doubled"
        );
        assert_eq!(self.duplicates, 0, "duplicate carrier orders");
        assert_eq!(
            self.orders, self.shipments as usize,
            "shipments without a carrier order"
        );
    }
}

/// The shipment ids the ledger holds.
async fn ledger_ids(db: &TestDb) -> HashSet<String> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }
    let mut conn = db.conn().await;
    diesel::sql_query("SELECT id::text AS id FROM shipments")
        .load::<Row>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. PostgreSQL restarted under load

/// One answer (or its absence) seen by a client.
#[derive(Debug, Clone)]
struct Sample {
    sent: Instant,
    took: Duration,
    /// HTTP status, or None for a transport error or a timeout.
    status: Option<u16>,
    retry_after: bool,
    /// `Idempotent-Replayed: true`: the ledger already had this key's shipment.
    replayed: bool,
    /// Shown in the failure message (Debug), e.g. the problem's code.
    #[allow(dead_code)]
    error: Option<String>,
}

/// Sends one create, recording what came back; Some(id) on 201/200.
async fn create_once(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    key: &str,
    body: &serde_json::Value,
    log: &Mutex<Vec<Sample>>,
) -> (Option<String>, Sample) {
    let sent = Instant::now();
    let resp = http
        .post(format!("{base}/v1/pickups"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .timeout(HANG)
        .send()
        .await;
    let (status, retry_after, replayed, error, id) = match resp {
        Ok(r) => {
            let status = r.status().as_u16();
            let retry_after = r.headers().contains_key("retry-after");
            let replayed = r.headers().contains_key("idempotent-replayed");
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            let id = matches!(status, 200 | 201)
                .then(|| body["id"].as_str().map(str::to_owned))
                .flatten();
            let error = (!matches!(status, 200 | 201)).then(|| body["code"].to_string());
            (Some(status), retry_after, replayed, error, id)
        }
        Err(e) => (None, false, false, Some(format!("{e}")), None),
    };
    let sample = Sample {
        sent,
        took: sent.elapsed(),
        status,
        retry_after,
        replayed,
        error,
    };
    log.lock().unwrap().push(sample.clone());
    (id, sample)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "stops the shared PostgreSQL; run with --ignored"]
async fn postgresql_restarted_under_load() {
    let (clients, warmup, down_for, after) = if short() {
        (
            32,
            Duration::from_secs(2),
            Duration::from_secs(5),
            Duration::from_secs(6),
        )
    } else {
        (
            32,
            Duration::from_secs(4),
            Duration::from_secs(10),
            Duration::from_secs(10),
        )
    };
    let sandbox = start_sandbox().await;
    let db = TestDb::new().await;
    let gw = Gateway::start(&db, &sandbox, &tuning()).await;
    let token = client_token();
    // Idle connections are let go before the gateway's keep-alive (actix-web's 5 s) closes
    // them: otherwise a client that reuses one just as the server closes it gets a transport
    // error that says nothing about PostgreSQL (seen once in CI, two clients at one instant,
    // after the outage had left connections idle).
    let http = reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let log = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(Mutex::new(Vec::<String>::new()));

    // 32 clients, each creating shipments one after another, each retried with its key
    // (200 ms apart, sooner than Retry-After, to measure recovery closely) until answered.
    let mut load = tokio::task::JoinSet::new();
    for c in 0..clients {
        let (http, base, token) = (http.clone(), gw.base.clone(), token.clone());
        let (log, stop, answered) = (log.clone(), stop.clone(), answered.clone());
        load.spawn(async move {
            let mut seq = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let n = c * 10_000 + seq;
                let (key, body) = (format!("pg-{n}"), pickup_body(&dossier(n)));
                let give_up = Instant::now() + Duration::from_secs(60);
                loop {
                    let (id, _) = create_once(&http, &base, &token, &key, &body, &log).await;
                    if let Some(id) = id {
                        answered.lock().unwrap().push(id);
                        break;
                    }
                    assert!(Instant::now() < give_up, "key {key} never answered 201");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                seq += 1;
            }
        });
    }
    // /readyz, four times a second
    let ready_log = Arc::new(Mutex::new(Vec::<(Instant, Option<u16>)>::new()));
    let ready = tokio::spawn({
        let (http, base, stop, ready_log) = (
            http.clone(),
            gw.base.clone(),
            stop.clone(),
            ready_log.clone(),
        );
        async move {
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let r = http
                    .get(format!("{base}/readyz"))
                    .timeout(HANG)
                    .send()
                    .await;
                ready_log
                    .lock()
                    .unwrap()
                    .push((t, r.ok().map(|r| r.status().as_u16())));
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    });

    tokio::time::sleep(warmup).await;
    let stopping = Instant::now();
    let pg = PgStopped::stop(down_for + Duration::from_secs(30));
    let down = Instant::now();
    tokio::time::sleep(down_for.saturating_sub(down - stopping)).await;
    let starting = Instant::now();
    pg.start();
    let up = Instant::now();
    // `down_s` below runs from the stop command to the end of the start command.
    eprintln!(
        "PostgreSQL: stop took {:.1} s, start took {:.1} s",
        (down - stopping).as_secs_f64(),
        (up - starting).as_secs_f64()
    );
    tokio::time::sleep(after).await;
    stop.store(true, Ordering::Relaxed);
    while let Some(r) = load.join_next().await {
        r.expect("a client failed");
    }
    ready.await.unwrap();

    // What the clients saw
    let samples = log.lock().unwrap().clone();
    let during = |s: &Sample| s.sent + s.took >= stopping && s.sent <= up;
    let ok = |s: &Sample| matches!(s.status, Some(200 | 201));
    let unavailable = |s: &Sample| s.status == Some(503);
    let bad: Vec<_> = samples
        .iter()
        .filter(|s| !(ok(s) || unavailable(s) && s.retry_after))
        .collect();
    let slowest = samples.iter().map(|s| s.took).max().unwrap_or_default();
    let n503 = samples.iter().filter(|s| unavailable(s)).count();
    let n503_down = samples
        .iter()
        .filter(|s| during(s) && unavailable(s))
        .count();
    let first_ok_after = samples
        .iter()
        .filter(|s| ok(s) && s.sent >= up)
        .map(|s| s.sent + s.took - up)
        .min();
    let last_503_after = samples
        .iter()
        .filter(|s| unavailable(s) && s.sent >= up)
        .map(|s| s.sent + s.took - up)
        .max()
        .unwrap_or_default();
    let readiness = ready_log.lock().unwrap().clone();
    let ready_while_down = readiness
        .iter()
        .filter(|(t, _)| *t >= down && *t + HANG < up)
        .filter(|(_, s)| *s != Some(503))
        .count();
    let readyz_down = readiness
        .iter()
        .filter(|(t, s)| *t >= down && *t < up && *s == Some(503))
        .count();
    let answered = answered.lock().unwrap().clone();
    let end = end_of_run(&db, &sandbox, &answered).await;
    let (shipments, orders, duplicates, missing) = end.counts();

    eprintln!(
        "\nFAULTS postgresql_restart: clients={clients} down_s={:.1} requests={} ok={} \
         status_503={n503} (while down {n503_down}) other_failures={} slowest_answer_s={:.2} \
         first_create_after_restart_s={:.2} last_503_after_restart_s={:.2} \
         readyz_503_while_down={readyz_down} shipments={shipments} answered_201={} \
         missing_from_ledger={missing} carrier_orders={orders} duplicates={duplicates}",
        (up - stopping).as_secs_f64(),
        samples.len(),
        samples.iter().filter(|s| ok(s)).count(),
        bad.len(),
        slowest.as_secs_f64(),
        first_ok_after.unwrap_or(Duration::MAX).as_secs_f64(),
        last_503_after.as_secs_f64(),
        answered.len(),
    );
    assert!(
        bad.is_empty(),
        "answers other than 201/200 or 503 with Retry-After: {:?}",
        &bad[..bad.len().min(10)]
    );
    assert!(
        n503_down > 0,
        "no request met the outage: the test proved nothing"
    );
    assert!(
        slowest <= ACQUIRE_TIMEOUT + Duration::from_secs(2),
        "an answer took {slowest:?}, past the configured acquire timeout"
    );
    assert_eq!(
        ready_while_down, 0,
        "/readyz said ready (or hung) while PostgreSQL was down"
    );
    assert!(
        readyz_down > 0,
        "/readyz was never asked while PostgreSQL was down"
    );
    let recovered = first_ok_after.expect("no create succeeded after PostgreSQL came back");
    assert!(
        recovered <= Duration::from_secs(5),
        "creates came back after {recovered:?}"
    );
    assert!(
        last_503_after <= Duration::from_secs(5),
        "503s went on {last_503_after:?} after PostgreSQL came back"
    );
    end.assert_exactly_once(answered.len());
}

// ---------------------------------------------------------------------------------------------
// 2. Clients that disconnect mid-request

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a fault test; run with --ignored"]
async fn clients_disconnecting_mid_request() {
    let (rounds, round_for, clients) = if short() {
        (3, Duration::from_secs(2), 16)
    } else {
        (8, Duration::from_secs(3), 32)
    };
    let sandbox = start_sandbox().await;
    let db = TestDb::new().await;
    let gw = Gateway::start(&db, &sandbox, &tuning()).await;
    let token = client_token();
    let sent = Arc::new(Mutex::new(Vec::<(String, serde_json::Value)>::new()));
    let answered = Arc::new(Mutex::new(HashMap::<String, String>::new()));
    let dropped = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));

    // Each round is a load generator that is killed (its tasks aborted, their connections
    // closed wherever they were) after a few seconds; each request is also given a random
    // deadline of 1-150 ms, so that many are abandoned while the gateway works on them.
    for round in 0..rounds {
        let mut generator = tokio::task::JoinSet::new();
        for c in 0..clients {
            let (base, token) = (gw.base.clone(), token.clone());
            let (sent, answered, dropped, failures) = (
                sent.clone(),
                answered.clone(),
                dropped.clone(),
                failures.clone(),
            );
            generator.spawn(async move {
                // A fresh client per generator: its connections die with it.
                let http = reqwest::Client::new();
                for seq in 0.. {
                    let n = round * 100_000 + c * 1_000 + seq;
                    let (key, body) = (format!("dc-{n}"), pickup_body(&dossier(n)));
                    sent.lock().unwrap().push((key.clone(), body.clone()));
                    let patience = Duration::from_millis(rand::random_range(1..150));
                    let resp = http
                        .post(format!("{base}/v1/pickups"))
                        .bearer_auth(&token)
                        .header("Idempotency-Key", &key)
                        .json(&body)
                        .timeout(patience)
                        .send()
                        .await;
                    match resp {
                        Ok(r) if r.status() == 201 => match r.json::<serde_json::Value>().await {
                            Ok(v) => {
                                let id = v["id"].as_str().unwrap().to_owned();
                                answered.lock().unwrap().insert(key, id);
                            }
                            Err(_) => {
                                dropped.fetch_add(1, Ordering::Relaxed);
                            }
                        },
                        Ok(r) => failures
                            .lock()
                            .unwrap()
                            .push(format!("{key}: {}", r.status())),
                        Err(_) => {
                            dropped.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
        tokio::time::sleep(round_for + Duration::from_millis(137 * round as u64)).await;
        generator.abort_all();
        while generator.join_next().await.is_some() {}
    }
    let committed_before_retry = db.count("SELECT count(*) FROM shipments").await;

    // Every client comes back and retries what it never got an answer to, with its key: the
    // ledger has it (200/201 replayed) or creates it now; nothing twice.
    let http = reqwest::Client::new();
    let log = Mutex::new(Vec::new());
    let unanswered: Vec<_> = {
        let answered = answered.lock().unwrap();
        sent.lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| !answered.contains_key(k))
            .cloned()
            .collect()
    };
    let retried = futures::stream::iter(unanswered.iter().map(|(key, body)| {
        let (http, base, token, log) = (&http, &gw.base, &token, &log);
        async move {
            for _ in 0..50 {
                match create_once(http, base, token, key, body, log).await {
                    (Some(id), s) => return (key.clone(), id, s.replayed),
                    // 409: the abandoned request is still holding its key
                    (None, _) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
            panic!("key {key} never answered");
        }
    }))
    .buffer_unordered(16)
    .collect::<Vec<_>>()
    .await;
    let replayed = retried.iter().filter(|(_, _, replay)| *replay).count();
    let mut all = answered.lock().unwrap().clone();
    for (key, id, _) in &retried {
        all.insert(key.clone(), id.clone());
    }
    let end = end_of_run(&db, &sandbox, all.values()).await;
    let (shipments, orders, duplicates, missing) = end.counts();
    let failures = failures.lock().unwrap().clone();
    let requests = sent.lock().unwrap().len();
    eprintln!(
        "\nFAULTS disconnects: generators_killed={rounds} requests={requests} answered_201={} \
         timed_out={} unanswered={} committed_while_abandoning={committed_before_retry} \
         retried_replayed={replayed} failures={} shipments={shipments} carrier_orders={orders} \
         duplicates={duplicates} missing={missing}",
        answered.lock().unwrap().len(),
        dropped.load(Ordering::Relaxed),
        unanswered.len(),
        failures.len(),
    );
    assert!(failures.is_empty(), "answers other than 201: {failures:?}");
    assert!(
        dropped.load(Ordering::Relaxed) > 0 && replayed > 0,
        "no request was abandoned after its commit: the test proved nothing"
    );
    end.assert_exactly_once(requests);
}

// ---------------------------------------------------------------------------------------------
// 3. Rolling restart of two processes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a fault test; run with --ignored"]
async fn rolling_restart_of_two_processes() {
    let (clients, pause) = if short() {
        (8, Duration::from_secs(2))
    } else {
        (16, Duration::from_secs(4))
    };
    let sandbox = start_sandbox().await;
    let db = TestDb::new().await;
    let mut gws = [
        Gateway::start(&db, &sandbox, &tuning()).await,
        Gateway::start(&db, &sandbox, &tuning()).await,
    ];
    let bases: Vec<String> = gws.iter().map(|g| g.base.clone()).collect();
    let token = client_token();
    let stop = Arc::new(AtomicBool::new(false));
    let log = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let refused = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let answered = Arc::new(Mutex::new(Vec::<String>::new()));

    // Clients that, like a load balancer, move to the other process when one refuses the
    // connection (or closes it before answering), retrying with the same key; any answer but
    // 201/200 is a failure.
    let mut load = tokio::task::JoinSet::new();
    for c in 0..clients {
        let (bases, token) = (bases.clone(), token.clone());
        let (stop, log, refused, answered) =
            (stop.clone(), log.clone(), refused.clone(), answered.clone());
        load.spawn(async move {
            let http = reqwest::Client::new();
            let mut at = c as usize % 2;
            let mut seq = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let n = c * 10_000 + seq;
                let (key, body) = (format!("rr-{n}"), pickup_body(&dossier(n)));
                let give_up = Instant::now() + Duration::from_secs(60);
                loop {
                    let (id, s) = create_once(&http, &bases[at], &token, &key, &body, &log).await;
                    if let Some(id) = id {
                        answered.lock().unwrap().push(id);
                        break;
                    }
                    assert!(
                        s.status.is_none(),
                        "{key}: answered {:?} ({:?})",
                        s.status,
                        s.error
                    );
                    refused.fetch_add(1, Ordering::Relaxed);
                    at = 1 - at;
                    assert!(Instant::now() < give_up, "key {key} never answered");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                seq += 1;
                at = 1 - at;
            }
        });
    }

    let mut stops = Vec::new();
    for g in gws.iter_mut() {
        tokio::time::sleep(pause).await;
        stops.push(g.terminate().await);
        tokio::time::sleep(Duration::from_millis(500)).await;
        g.restart().await;
    }
    tokio::time::sleep(pause).await;
    stop.store(true, Ordering::Relaxed);
    while let Some(r) = load.join_next().await {
        r.expect("a client saw a failed request");
    }
    let samples = log.lock().unwrap().clone();
    let answered = answered.lock().unwrap().clone();
    let end = end_of_run(&db, &sandbox, &answered).await;
    let (shipments, orders, duplicates, missing) = end.counts();
    let attempts = db
        .count(
            "SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id \
             WHERE j.kind = 'carrier_submit'",
        )
        .await;
    // Claims, not attempt rows: a job released at shutdown has no attempt row for the run
    // that was cut off.
    let claims = db
        .count("SELECT coalesce(sum(attempts), 0) FROM jobs WHERE kind = 'carrier_submit'")
        .await;
    let released = db
        .count("SELECT count(*) FROM jobs WHERE last_error IS NOT NULL AND kind = 'carrier_submit'")
        .await;
    {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        #[derive(QueryableByName, Debug)]
        #[allow(dead_code)] // shown through Debug
        struct E {
            #[diesel(sql_type = diesel::sql_types::Text)]
            last_error: String,
        }
        let mut conn = db.conn().await;
        let errors = diesel::sql_query(
            "SELECT last_error FROM jobs WHERE last_error IS NOT NULL AND kind = 'carrier_submit'",
        )
        .load::<E>(&mut conn)
        .await
        .unwrap();
        if !errors.is_empty() {
            eprintln!("submission jobs with an error: {errors:?}");
        }
    }
    let workers = db
        .count("SELECT count(DISTINCT worker) FROM job_attempts")
        .await;
    eprintln!(
        "\nFAULTS rolling_restart: clients={clients} requests={} answered_201={} \
         connection_retries={} sigterm_exit_s={:?} workers={workers} shipments={shipments} \
         submit_attempts={attempts} submit_claims={claims} jobs_with_error={released} carrier_orders={orders} \
         duplicates={duplicates} missing={missing}",
        samples.len(),
        answered.len(),
        refused.load(Ordering::Relaxed),
        stops
            .iter()
            .map(|d| (d.as_secs_f64() * 10.0).round() / 10.0)
            .collect::<Vec<_>>(),
    );
    end.assert_exactly_once(answered.len());
    assert_eq!(
        (attempts, claims),
        (shipments, shipments),
        "a submission job ran twice (or was cut off)"
    );
    assert!(
        workers >= 4,
        "only {workers} worker(s) ran jobs: the restarts did not happen under load"
    );
}
