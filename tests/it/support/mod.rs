//! Test plumbing: databases cloned from a migrated template, the gateway started in-process on
//! a random port, tokens, request bodies.

#![allow(dead_code)]

pub mod browser;

use bcci_gateway::config::{Config, Secret};
use bcci_gateway::{auth, ledger, server};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;
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
        let db = TestDb::new().await;
        let mut config =
            Config::from_overlays(&[TEST_OVERLAY, overlay]).expect("test configuration");
        config.database.url = Secret::new(db.url.clone());
        config.database.create_if_missing = false;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
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
        self.http
            .post(self.url(&format!("/v1/{kind}")))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .unwrap()
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

    pub async fn stop(mut self) {
        self.gateway.take().unwrap().stop().await.unwrap();
    }
}

/// A valid pickup body for `dossier` (SPEC §3's example).
pub fn pickup_body(dossier: &str) -> Value {
    json!({
        "dossier_code": dossier,
        "office_code": "VPDKDD-TQ",
        "procedure": { "code": "1.004227", "name": "Đăng ký biến động quyền sử dụng đất" },
        "citizen": { "full_name": "Nguyễn Văn An", "phone": "0912345678", "email": null, "id_number": "008090001234" },
        "address": { "line": "Số 12, tổ 5", "province_code": "08", "commune_code": "02215" },
        "documents": [ { "name": "Đơn đăng ký biến động", "copies": 1 } ],
        "collect_fees_vnd": 0,
        "note": "Gọi trước khi đến"
    })
}

/// A valid delivery body for `dossier`.
pub fn delivery_body(dossier: &str) -> Value {
    json!({
        "dossier_code": dossier,
        "office_code": "VPDKDD-TQ",
        "procedure": { "code": "1.004227", "name": "Đăng ký biến động quyền sử dụng đất" },
        "recipient": { "full_name": "Trần Thị Bình", "phone": "+84 987 654 321", "email": "binh@example.vn", "id_number": null },
        "address": { "line": "Thôn Nà Mèo", "province_code": "08", "commune_code": "00700" },
        "result": { "description": "Giấy chứng nhận quyền sử dụng đất", "documents": [ { "name": "Giấy chứng nhận", "copies": 1 } ] },
        "due_at": "2026-12-01T17:00:00+07:00",
        "cod_vnd": 30000
    })
}

/// A distinct, well-formed dossier code.
pub fn dossier(n: u32) -> String {
    format!("000.00.14.H61-261127-{n:04}")
}

pub async fn json(resp: reqwest::Response) -> Value {
    resp.json().await.unwrap()
}
