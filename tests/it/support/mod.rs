//! Test plumbing, once for every test file: databases cloned from a migrated template, the
//! gateway started in-process on a random port, tokens, request bodies, shipments created,
//! polling until something happens, a console session over plain HTTP. `browser`: a real
//! browser for the page tests; `process`: the real binary (crash and fault tests).

#![allow(dead_code)]

pub mod bodies;
pub mod browser;
pub mod process;

pub use bodies::*;

use bcci_gateway::config::{Config, Secret};
use bcci_gateway::{auth, ledger, server};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// The PostgreSQL server the tests use; each test gets its own database on it.
pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// The template's name changes whenever a migration changes (its name, which is its version,
/// or its text), so a stale template is never used.
fn template_name() -> String {
    let mut h = Sha256::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for e in entries {
        h.update(e.file_name().unwrap().as_encoded_bytes());
        for f in ["up.sql", "down.sql"] {
            if let Ok(text) = std::fs::read(e.join(f)) {
                h.update(&text);
            }
        }
    }
    format!("bcci_template_{}", &hex::encode(h.finalize())[..12])
}

async fn admin() -> AsyncPgConnection {
    AsyncPgConnection::establish(&format!("{}/postgres", server_url()))
        .await
        .expect("connect to PostgreSQL")
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    exists: bool,
}

async fn database_exists(conn: &mut AsyncPgConnection, name: &str) -> bool {
    diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
        .bind::<diesel::sql_types::Text, _>(name)
        .get_result::<Exists>(conn)
        .await
        .unwrap()
        .exists
}

/// Builds the migrated template once (across test processes too: an advisory lock guards it).
async fn template() -> &'static str {
    static TEMPLATE: OnceCell<String> = OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let name = template_name();
            let mut conn = admin().await;
            diesel::sql_query("SELECT pg_advisory_lock(7726001)")
                .execute(&mut conn)
                .await
                .unwrap();
            if !database_exists(&mut conn, &name).await {
                let building = format!("{name}_building");
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {building}"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                diesel::sql_query(format!("CREATE DATABASE {building}"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                ledger::migrate(&format!("{}/{building}", server_url()))
                    .await
                    .expect("migrate the template");
                diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {name}"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
            diesel::sql_query("SELECT pg_advisory_unlock(7726001)")
                .execute(&mut conn)
                .await
                .unwrap();
            name
        })
        .await
}

/// A fresh database, dropped when the value is dropped.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let template = template().await;
        let name = format!("bcci_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = admin().await;
        // CREATE DATABASE ... TEMPLATE fails while another session is copying the same
        // template; retry briefly.
        let mut tries = 0;
        loop {
            match diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {template}"))
                .execute(&mut conn)
                .await
            {
                Ok(_) => break,
                Err(e)
                    if tries < 50 && e.to_string().contains("is being accessed by other users") =>
                {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50 + 20 * tries)).await;
                }
                Err(e) => panic!("creating test database: {e}"),
            }
        }
        TestDb {
            url: format!("{}/{name}", server_url()),
            name,
        }
    }

    pub async fn conn(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.url).await.unwrap()
    }

    /// Runs one statement (changes made behind the gateway's back).
    pub async fn exec(&self, sql: &str) {
        let mut conn = self.conn().await;
        diesel::sql_query(sql).execute(&mut conn).await.unwrap();
    }

    /// Runs a query returning one bigint, e.g. `SELECT count(*) FROM jobs`.
    pub async fn count(&self, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.conn().await;
        diesel::sql_query(format!("SELECT ({sql})::bigint AS n"))
            .get_result::<N>(&mut conn)
            .await
            .unwrap()
            .n
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside async context: use a small runtime on its own thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let mut conn = admin().await;
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
            });
        })
        .join();
    }
}

/// Configuration overlay every test app gets: a second client and a second office, so that
/// visibility rules can be tested.
pub const TEST_OVERLAY: &str = r#"
[server]
workers = 2
[database]
pool_size = 8
[jobs]
enabled = false
pool_size = 4
[tracking]
enabled = false
[carrier.sandbox]
listen = "127.0.0.1:0"
[[clients]]
id = "motcua-tq"
callback_url = "http://127.0.0.1:9/callbacks"
callback_secret = "whsec_dGVzdC1jYWxsYmFjay1zZWNyZXQtb25lLTAxMjM0NTY3"
[[clients]]
id = "other-client"
callback_url = "http://127.0.0.1:9/other"
callback_secret = "whsec_dGVzdC1jYWxsYmFjay1zZWNyZXQtdHdvLTAxMjM0NTY3"
"#;

pub struct TestApp {
    pub base: String,
    pub db: TestDb,
    pub config: Arc<Config>,
    pub http: reqwest::Client,
    pub gateway: Option<server::Gateway>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with("").await
    }

    /// Starts the gateway with `overlay` (TOML) over the defaults and the test overlay.
    pub async fn spawn_with(overlay: &str) -> TestApp {
        Self::start(overlay, false).await
    }

    /// The same, with `server.public_url` where it really listens, so that the links it makes
    /// (`tracking_url`, the QR code) open in the test.
    pub async fn spawn_public(overlay: &str) -> TestApp {
        Self::start(overlay, true).await
    }

    async fn start(overlay: &str, public: bool) -> TestApp {
        let db = TestDb::new().await;
        let mut config =
            Config::from_overlays(&[TEST_OVERLAY, overlay]).expect("test configuration");
        config.database.url = Secret::new(db.url.clone());
        config.database.create_if_missing = false;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        if public {
            config.server.public_url = base.parse().unwrap();
        }
        let gateway = server::Gateway::start(config, listener)
            .await
            .expect("start the gateway");
        let config = gateway.state.config.clone();
        TestApp {
            base,
            db,
            config,
            http: reqwest::Client::new(),
            gateway: Some(gateway),
        }
    }

    /// The sandbox carrier this gateway talks to.
    pub fn sandbox(&self) -> &bcci_gateway::carrier::sandbox::SandboxHandle {
        self.gateway
            .as_ref()
            .unwrap()
            .sandbox
            .as_ref()
            .expect("carrier.kind = sandbox")
    }

    /// Makes every call to the sandbox carrier fail (`true`), or none (`false`).
    pub fn carrier_down(&self, down: bool) {
        use bcci_gateway::carrier::sandbox::{Chance, FaultsPatch};
        self.sandbox().set_faults(&FaultsPatch {
            error_rate: Some(if down { Chance::ALWAYS } else { Chance::NEVER }),
            ..Default::default()
        });
    }

    /// Pickup `n` with a commune the carrier refuses: created while the carrier is down (so
    /// that it is not submitted first), then changed behind the API's back. The carrier is left
    /// down.
    ///
    /// Returns once a submit attempt that started after the change has failed: an attempt
    /// already under way read the shipment before it, and would send the good commune if the
    /// carrier came back before it called.
    pub async fn pickup_with_bad_commune(&self, n: u32) -> String {
        self.carrier_down(true);
        let id = self.create_pickup(n).await;
        self.db
            .exec(&format!(
                "UPDATE shipments SET commune_code = '99999' WHERE id = '{id}'"
            ))
            .await;
        let changed = chrono::Utc::now().to_rfc3339();
        let attempts_since = format!(
            "SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id \
             WHERE j.shipment_id = '{id}' AND a.started_at > '{changed}'"
        );
        poll(
            Duration::from_secs(10),
            Duration::from_millis(20),
            async || match self.db.count(&attempts_since).await {
                0 => Err("no submit attempt after the change".to_owned()),
                _ => Ok(()),
            },
        )
        .await;
        id
    }

    pub fn token(&self, sub: &str, scopes: &[&str]) -> String {
        let claims = auth::claims_for(
            &self.config.auth,
            sub,
            scopes,
            None,
            Some(format!("Cán bộ {sub}")),
            chrono::Duration::hours(1),
        );
        auth::mint(&self.config.auth, &claims).unwrap()
    }

    pub fn staff_token(&self, sub: &str, scopes: &[&str], offices: Option<&[&str]>) -> String {
        let offices = offices.map(|o| o.iter().map(|s| s.to_string()).collect());
        let claims = auth::claims_for(
            &self.config.auth,
            sub,
            scopes,
            offices,
            Some("Nguyễn Thị Cán Bộ".into()),
            chrono::Duration::hours(1),
        );
        auth::mint(&self.config.auth, &claims).unwrap()
    }

    /// A token for the default test client with read and write scopes.
    pub fn client_token(&self) -> String {
        self.token("motcua-tq", &["shipments:write", "shipments:read"])
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn create(
        &self,
        kind: &str,
        token: &str,
        key: &str,
        body: &Value,
    ) -> reqwest::Response {
        send_create(
            &self.http,
            self.url(&format!("/v1/{kind}")),
            token,
            key,
            body,
        )
        .await
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Creates a shipment (`kind`: "pickups" or "deliveries") as the test client; asserts 201
    /// and returns its id.
    pub async fn create_ok(&self, kind: &str, key: &str, body: &Value) -> String {
        let resp = self.create(kind, &self.client_token(), key, body).await;
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert_eq!(status, 201, "{text}");
        serde_json::from_str::<Value>(&text).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Creates shipment number `n` of `kind` with the example body of [`pickup_body`] or
    /// [`delivery_body`] for [`dossier`]`(n)`; returns its id.
    pub async fn create_numbered(&self, kind: &str, n: u32) -> String {
        let body = if kind == "pickups" {
            pickup_body(&dossier(n))
        } else {
            delivery_body(&dossier(n))
        };
        self.create_ok(kind, &format!("{kind}-{n}"), &body).await
    }

    pub async fn create_pickup(&self, n: u32) -> String {
        self.create_numbered("pickups", n).await
    }

    /// Creates pickup number `n` and waits until it is submitted to the carrier; returns its id.
    pub async fn submitted_pickup(&self, n: u32) -> String {
        let id = self.create_pickup(n).await;
        wait_for(self, &id, "submitted", Duration::from_secs(10)).await;
        id
    }

    pub async fn stop(mut self) {
        self.gateway.take().unwrap().stop().await.unwrap();
    }
}

/// A create request (`POST url`) as `token`, with the Idempotency-Key `key`.
pub async fn send_create(
    http: &reqwest::Client,
    url: String,
    token: &str,
    key: &str,
    body: &Value,
) -> reqwest::Response {
    http.post(url)
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

pub async fn json(resp: reqwest::Response) -> Value {
    resp.json().await.unwrap()
}

/// Sends the request and reads its answer's JSON (whatever its status).
pub async fn send_json<T: serde::de::DeserializeOwned>(req: reqwest::RequestBuilder) -> T {
    req.send().await.unwrap().json().await.unwrap()
}

/// Sends the request and reads its answer's text (whatever its status).
pub async fn send_text(req: reqwest::RequestBuilder) -> String {
    req.send().await.unwrap().text().await.unwrap()
}

/// Another system (a carrier, a dossier system's endpoint) stood in for by the test: what
/// `routes` sets up, served in the background by one worker on a free port. Returns
/// `http://<address>` and the server's handle.
pub fn stand_in(
    routes: impl Fn(&mut actix_web::web::ServiceConfig) + Send + Clone + 'static,
) -> (String, actix_web::dev::ServerHandle) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server =
        actix_web::HttpServer::new(move || actix_web::App::new().configure(routes.clone()))
            .workers(1)
            .disable_signals()
            .listen(listener)
            .unwrap()
            .run();
    let handle = server.handle();
    tokio::spawn(server);
    (base, handle)
}

/// A token minted with the built-in configuration's secret (config/default.toml), for the
/// binary started with it (tests/it/crash.rs, tests/faults.rs).
pub fn default_token(sub: &str, scopes: &[&str]) -> String {
    let cfg = Config::from_overlay("").unwrap();
    auth::mint(
        &cfg.auth,
        &auth::claims_for(
            &cfg.auth,
            sub,
            scopes,
            None,
            None,
            chrono::Duration::hours(2),
        ),
    )
    .unwrap()
}

/// Calls `probe` every `every` until it gives a value; fails with its last reason after
/// `within`.
pub async fn poll<T>(
    within: Duration,
    every: Duration,
    mut probe: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let until = Instant::now() + within;
    loop {
        match probe().await {
            Ok(v) => return v,
            Err(why) => assert!(Instant::now() < until, "not within {within:?}: {why}"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Polls the shipment (as staff who see everything see it) until `done` says so; fails
/// naming `what` after `within`.
pub async fn wait_until(
    app: &TestApp,
    id: &str,
    what: &str,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let token = app.staff_token("watcher", &["staff:read", "staff:pii"], None);
    poll(within, Duration::from_millis(25), async || {
        let s = json(app.get(&format!("/v1/shipments/{id}"), &token).await).await;
        if done(&s) {
            Ok(s)
        } else {
            Err(format!("shipment {id} never {what}: {s}"))
        }
    })
    .await
}

/// Polls the shipment until its status is `status`.
pub async fn wait_for(app: &TestApp, id: &str, status: &str, within: Duration) -> Value {
    wait_until(app, id, &format!("became {status}"), within, |s| {
        s["status"] == status
    })
    .await
}

/// The cookies a response sets, as one `Cookie` header value (added to `jar`).
pub fn keep_cookies(jar: &mut Vec<String>, resp: &reqwest::Response) {
    for v in resp.headers().get_all("set-cookie") {
        let pair = v.to_str().unwrap().split(';').next().unwrap().to_owned();
        let name = pair.split('=').next().unwrap().to_owned();
        jar.retain(|c| !c.starts_with(&format!("{name}=")));
        jar.push(pair);
    }
}

/// The value of the first `<input name="{name}" value="…">` of a page.
pub fn input_value(html: &str, name: &str) -> String {
    let at = html.find(&format!("name=\"{name}\" value=\"")).unwrap() + name.len() + 15;
    html[at..].split('"').next().unwrap().to_owned()
}

/// A console session opened as a person would, without a browser: the sign-in page's check,
/// then the token. Returns the client (redirects not followed) and the `Cookie` header to
/// send.
pub async fn console_session(app: &TestApp, token: &str) -> (reqwest::Client, String) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut jar = Vec::new();
    let resp = http.get(app.url("/console/sign-in")).send().await.unwrap();
    keep_cookies(&mut jar, &resp);
    let check = input_value(&resp.text().await.unwrap(), "check");
    let resp = http
        .post(app.url("/console/sign-in"))
        .header("cookie", jar.join("; "))
        .form(&[("token", token), ("check", &check), ("next", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "signed in");
    keep_cookies(&mut jar, &resp);
    (http, jar.join("; "))
}
