//! `bcci-gateway doctor` (issue 11 §3) against the real PostgreSQL, the sandbox carrier and
//! real HTTP callback receivers: one run where everything is in order, one where the database
//! and a client's callback URL are not.

use crate::support::*;
use bcci_gateway::config::{Config, Secret};
use bcci_gateway::doctor;

/// A callback receiver that answers every request with 404: any HTTP answer counts.
fn receiver() -> (String, actix_web::dev::ServerHandle) {
    let (base, handle) = stand_in(|routes| {
        routes.default_service(actix_web::web::to(actix_web::HttpResponse::NotFound));
    });
    (format!("{base}/callbacks"), handle)
}

fn config(db_url: &str, callback_a: &str, callback_b: &str) -> Config {
    let clients = format!(
        r#"
[[clients]]
id = "motcua-tq"
callback_url = "{callback_a}"
callback_secret = "whsec_dGVzdC1jYWxsYmFjay1zZWNyZXQtb25lLTAxMjM0NTY3"
[[clients]]
id = "other-client"
callback_url = "{callback_b}"
callback_secret = "whsec_dGVzdC1jYWxsYmFjay1zZWNyZXQtdHdvLTAxMjM0NTY3"
[callbacks]
timeout = "3s"
[database]
acquire_timeout = "3s"
"#
    );
    let mut config = Config::from_overlays(&[&clients]).unwrap();
    config.database.url = Secret::new(db_url);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_in_order() {
    let db = TestDb::new().await;
    let (url, server) = receiver();
    let report = doctor::run(&config(&db.url, &url, &url)).await;
    assert!(report.ok(), "{report}");
    for check in [
        "configuration",
        "database",
        "clock",
        "carrier",
        "webhook key",
        "client motcua-tq",
        "client other-client",
    ] {
        assert!(report.get(check).is_some_and(|f| f.ok), "{check}: {report}");
    }
    assert!(report.to_string().contains("HTTP 404"), "{report}");
    server.stop(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_database_and_a_dead_callback_url_are_named_with_their_fix() {
    let (url, server) = receiver();
    let missing = format!("{}/bcci_doctor_no_such_database", server_url());
    let report = doctor::run(&config(&missing, &url, "http://127.0.0.1:9/callbacks")).await;
    assert!(!report.ok());
    let db = report.get("database").unwrap();
    assert!(!db.ok, "{report}");
    assert!(db.found.contains("does not exist"), "{report}");
    assert!(db.fix.as_deref().unwrap().contains("migrate"), "{report}");
    let client = report.get("client other-client").unwrap();
    assert!(!client.ok, "{report}");
    assert!(client.found.contains("refused"), "{report}");
    // The other checks still ran, and still pass.
    assert!(report.get("client motcua-tq").unwrap().ok, "{report}");
    assert!(report.get("carrier").unwrap().ok, "{report}");
    server.stop(false).await;

    // A host name that does not resolve (`.invalid` never does, RFC 6761), and a database
    // that exists but was never migrated.
    let empty = format!("bcci_doctor_empty_{}", uuid::Uuid::new_v4().simple());
    let mut admin = <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(
        &format!("{}/postgres", server_url()),
    )
    .await
    .unwrap();
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(format!("CREATE DATABASE {empty}")),
        &mut admin,
    )
    .await
    .unwrap();
    let report = doctor::run(&config(
        &format!("{}/{empty}", server_url()),
        "http://callbacks.bcci.invalid/cb",
        "http://callbacks.bcci.invalid/cb",
    ))
    .await;
    let db = report.get("database").unwrap();
    assert!(!db.ok && db.found.contains("schema is missing"), "{report}");
    assert!(report.get("clock").unwrap().ok, "{report}");
    let client = report.get("client motcua-tq").unwrap();
    assert!(
        !client.ok && client.found.contains("does not resolve"),
        "{report}"
    );
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(format!("DROP DATABASE {empty} WITH (FORCE)")),
        &mut admin,
    )
    .await
    .unwrap();
}

#[test]
fn clocks_a_minute_apart_are_a_problem() {
    let now = chrono::Utc::now();
    assert!(doctor::clock_finding(now, now + chrono::Duration::seconds(59)).ok);
    let skewed = doctor::clock_finding(now, now - chrono::Duration::seconds(90));
    assert!(!skewed.ok);
    assert!(skewed.found.contains("ahead of"), "{}", skewed.found);
    assert!(skewed.fix.unwrap().contains("NTP"));
}

#[test]
fn a_configuration_that_does_not_load_is_the_first_finding() {
    let e = Config::from_overlay("[auth]\nhs256_secret = \"short\"").unwrap_err();
    let report = doctor::Report::bad_configuration(e);
    assert!(!report.ok());
    assert!(report.to_string().contains("auth.hs256_secret"));
}

/// Migrations only add: while the first upgraded process has migrated, the old ones stay ready
/// (a load balancer keeps them), and the doctor names the upgrade in progress.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_keeps_older_processes_ready() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.conn().await;
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(
            "INSERT INTO __diesel_schema_migrations (version) VALUES ('99991231000000')",
        ),
        &mut conn,
    )
    .await
    .unwrap();
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let (url, server) = receiver();
    let report = doctor::run(&config(&app.db.url, &url, &url)).await;
    let db = report.get("database").unwrap();
    assert!(db.ok && db.found.contains("rolling upgrade"), "{report}");
    server.stop(false).await;
    app.stop().await;
}
