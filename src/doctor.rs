//! `bcci-gateway doctor` (issue 11 §3): checks a deployment from the outside in and says, for
//! each problem, what to fix. Every check runs even when an earlier one fails, so one run
//! lists everything to fix. Nothing printed carries a secret (the database URL is shown
//! without its password) or a citizen's data (there is none here).

use crate::carrier::catalogue::{self, CheckError};
use crate::carrier::push::PushKeys;
use crate::config::{CarrierKind, Config, WebhookMode};
use crate::ledger;
use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use std::fmt;
use std::time::Duration;

/// How far the gateway's clock may be from PostgreSQL's (timestamps from both meet in the
/// ledger: lateness, leases, idempotency expiry).
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What was checked: `configuration`, `database`, `clock`, `carrier`, `webhook key`,
    /// `client <id>`.
    pub check: String,
    pub ok: bool,
    /// What was found.
    pub found: String,
    /// What to do about it (problems only).
    pub fix: Option<String>,
}

impl Finding {
    fn ok(check: impl Into<String>, found: impl Into<String>) -> Finding {
        Finding {
            check: check.into(),
            ok: true,
            found: found.into(),
            fix: None,
        }
    }

    fn problem(
        check: impl Into<String>,
        found: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            check: check.into(),
            ok: false,
            found: found.into(),
            fix: Some(fix.into()),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    /// Nothing needs fixing.
    pub fn ok(&self) -> bool {
        self.findings.iter().all(|f| f.ok)
    }

    pub fn problems(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| !f.ok)
    }

    /// The finding of `check`, for tests and scripts.
    pub fn get(&self, check: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.check == check)
    }

    /// The report of a configuration that does not load: the other checks cannot run.
    pub fn bad_configuration(error: impl fmt::Display) -> Report {
        Report {
            findings: vec![Finding::problem(
                "configuration",
                error.to_string(),
                "correct the key named above in the --config file (or its BCCI_… variable); \
                 `bcci-gateway check-config` checks it again",
            )],
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for x in &self.findings {
            let tag = if x.ok { "ok     " } else { "PROBLEM" };
            writeln!(f, "[{tag}] {}: {}", x.check, x.found)?;
            if let Some(fix) = &x.fix {
                writeln!(f, "          fix: {fix}")?;
            }
        }
        match self.problems().count() {
            0 => writeln!(f, "everything checked is in order"),
            n => writeln!(f, "{n} problem(s) to fix"),
        }
    }
}

/// Runs every check against `config` (already loaded and valid).
pub async fn run(config: &Config) -> Report {
    let mut report = Report::default();
    report.findings.push(Finding::ok(
        "configuration",
        format!(
            "valid ({} client(s), {} office(s), carrier {:?})",
            config.clients.len(),
            config.offices.len(),
            config.carrier.kind
        ),
    ));
    report.findings.extend(database(config).await);
    report.findings.push(carrier(config).await);
    report.findings.push(webhook_key(config));
    for client in &config.clients {
        report
            .findings
            .push(callback_url(&client.id, &client.callback_url, config.callbacks.timeout).await);
    }
    report
}

/// The database URL as it may be printed: no password.
fn printable_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "(database.url is not a URL)".into(),
    }
}

#[derive(diesel::QueryableByName)]
struct Now {
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    now: DateTime<Utc>,
}

#[derive(diesel::QueryableByName)]
struct Applied {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    version: Option<String>,
}

/// Reachable, migrated, and the clocks agree: two findings (`database`, `clock`).
async fn database(config: &Config) -> Vec<Finding> {
    let url = config.database.url.expose();
    let shown = printable_url(url);
    let timeout = config.database.acquire_timeout.max(Duration::from_secs(2));
    let mut conn = match tokio::time::timeout(timeout, AsyncPgConnection::establish(url)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => {
            let e = e.to_string();
            let fix = if e.contains("does not exist") && e.contains("database") {
                "create it with `bcci-gateway migrate` (with database.create_if_missing = true), \
                     or correct database.url / DATABASE_URL"
            } else if e.contains("password") || e.contains("authentication") || e.contains("role") {
                "correct the user and password in database.url (or its file:), ask the DBA for \
                 that role, and check the server's pg_hba.conf for this host"
            } else {
                "check that PostgreSQL runs and accepts connections from this host (host and \
                     port of database.url, listen_addresses, pg_hba.conf, firewall)"
            };
            return vec![
                Finding::problem("database", format!("cannot connect to {shown}: {e}"), fix),
                Finding::problem(
                    "clock",
                    "not compared: the database cannot be reached",
                    "fix the database first",
                ),
            ];
        }
        Err(_) => {
            return vec![
                Finding::problem(
                    "database",
                    format!("no answer from {shown} within {}s", timeout.as_secs()),
                    "check that PostgreSQL runs and that no firewall drops the connection",
                ),
                Finding::problem(
                    "clock",
                    "not compared: the database cannot be reached",
                    "fix the database first",
                ),
            ];
        }
    };
    let latest = ledger::latest_migration();
    let ready = ledger::is_ready(&mut conn).await;
    let applied =
        diesel::sql_query("SELECT max(version)::text AS version FROM __diesel_schema_migrations")
            .get_result::<Applied>(&mut conn)
            .await
            .ok()
            .and_then(|a| a.version);
    let migrate = "run `bcci-gateway migrate --config FILE` (serve also migrates at start-up)";
    let db = match (ready, applied) {
        // Migrations only add: a newer schema serves an older binary during an upgrade.
        (Ok(true), Some(v)) if v > latest => Finding::ok(
            "database",
            format!(
                "{shown} reachable, schema at {v}, newer than this binary's {latest} \
                 (a rolling upgrade in progress: upgrade this host too)"
            ),
        ),
        (Ok(true), _) => Finding::ok(
            "database",
            format!("{shown} reachable, schema at this version's migration {latest}"),
        ),
        (Ok(false), Some(v)) => Finding::problem(
            "database",
            format!("{shown} reachable, but its schema is at {v}, not {latest}"),
            migrate,
        ),
        (Ok(false), None) => Finding::problem(
            "database",
            format!("{shown} reachable, but no migration is applied"),
            migrate,
        ),
        // No migrations table: an empty database.
        (Err(e), _) => Finding::problem(
            "database",
            format!("{shown} reachable, but the gateway's schema is missing ({e})"),
            migrate,
        ),
    };
    let before = Utc::now();
    let clock = match diesel::sql_query("SELECT now() AS now")
        .get_result::<Now>(&mut conn)
        .await
    {
        Ok(Now { now }) => {
            // Compared with the middle of the round trip.
            let after = Utc::now();
            let here = before + (after - before) / 2;
            clock_finding(here, now)
        }
        Err(e) => Finding::problem(
            "clock",
            format!("cannot read the database's clock: {e}"),
            "check the database user's rights",
        ),
    };
    vec![db, clock]
}

/// This host's clock `here` against the database's `db` at the same instant.
pub fn clock_finding(here: DateTime<Utc>, db: DateTime<Utc>) -> Finding {
    let skew = (here - db).abs();
    let shown = format!("{:.1}s", skew.num_milliseconds() as f64 / 1000.0);
    if skew.to_std().unwrap_or(Duration::MAX) <= MAX_CLOCK_SKEW {
        Finding::ok(
            "clock",
            format!("this host and the database agree within {shown}"),
        )
    } else {
        Finding::problem(
            "clock",
            format!(
                "this host's clock is {shown} {} the database's",
                if here > db { "ahead of" } else { "behind" }
            ),
            "synchronise both hosts with NTP (systemd-timesyncd or chrony) and check \
             `timedatectl`",
        )
    }
}

/// Logs in and compares VNPost's address catalogues with the offices (as `carrier check`).
/// With the sandbox carrier, a sandbox is started for the check.
async fn carrier(config: &Config) -> Finding {
    let (asked, result) = catalogue::check_configured(config).await;
    let base = &config.carrier.base_url;
    match result {
        Err(e @ CheckError::Sandbox(_)) => Finding::problem(
            "carrier",
            e.to_string(),
            "check that this host may listen on 127.0.0.1",
        ),
        Err(e @ CheckError::Adapter(_)) => Finding::problem(
            "carrier",
            e.to_string(),
            "correct the [carrier] key named above",
        ),
        Err(CheckError::Carrier(e)) => Finding::problem(
            "carrier",
            format!("{:?} at {}: {}", config.carrier.kind, asked, e.message),
            format!(
                "check carrier.base_url ({base}), username and password with VNPost, that this \
                 host's public IP is whitelisted by VNPost, and that HTTPS to it is not blocked \
                 (`bcci-gateway carrier check` tells more)"
            ),
        ),
        Ok(report) => {
            let unknown: Vec<String> = report
                .unknown_offices()
                .map(|o| {
                    format!(
                        "{} (commune {}, sent as {})",
                        o.office_code, o.commune_code, o.vnpost_code
                    )
                })
                .collect();
            if unknown.is_empty() {
                Finding::ok(
                    "carrier",
                    format!(
                        "logged in; VNPost knows the commune of all {} office(s)",
                        report.offices.len()
                    ),
                )
            } else {
                Finding::problem(
                    "carrier",
                    format!(
                        "logged in, but VNPost does not know the commune of: {}",
                        unknown.join(", ")
                    ),
                    "map the official code to VNPost's in [carrier.commune_codes], or correct \
                     offices[].address.commune_code; `bcci-gateway carrier check` lists VNPost's \
                     names",
                )
            }
        }
    }
}

/// The keys of the configured webhook mode (parsed when the configuration was read).
fn webhook_key(config: &Config) -> Finding {
    let c = &config.carrier;
    let (mode, count) = match PushKeys::from_config(c) {
        Ok(PushKeys::Signature(keys)) => (WebhookMode::Signature, keys.len()),
        Ok(PushKeys::Encryption(keys)) => (WebhookMode::Encryption, keys.len()),
        Err(e) => {
            return Finding::problem(
                "webhook key",
                e.to_string(),
                "correct the carrier.webhook_*_key_pem keys",
            );
        }
    };
    let which = match mode {
        WebhookMode::Signature
            if c.kind == CarrierKind::Sandbox && c.webhook_public_key_pem.is_none() =>
        {
            "the sandbox's published development key".to_owned()
        }
        WebhookMode::Signature => format!("{count} VNPost public key(s)"),
        WebhookMode::Encryption => format!("{count} private key(s) of the gateway"),
    };
    if count == 0 {
        return Finding::problem(
            "webhook key",
            format!("mode {}: no key", mode.as_str()),
            "set carrier.webhook_public_key_pem (signature) or webhook_private_key_pem \
             (encryption)",
        );
    }
    Finding::ok(
        "webhook key",
        format!("mode {}: {which} loaded", mode.as_str()),
    )
}

/// Resolves the client's callback host and asks it something: any HTTP answer counts (a
/// GET to a callback URL may well get 405); no answer is the problem.
pub async fn callback_url(id: &str, url: &url::Url, timeout: Duration) -> Finding {
    let check = format!("client {id}");
    let Some(host) = url.host_str() else {
        return Finding::problem(
            check,
            format!("callback_url {url} has no host"),
            "correct clients[].callback_url",
        );
    };
    let port = url.port_or_known_default().unwrap_or(443);
    let resolved = tokio::time::timeout(timeout, tokio::net::lookup_host((host, port)))
        .await
        .map(|r| r.map(|mut addrs| addrs.next().is_some()));
    match resolved {
        Ok(Ok(true)) => {}
        Ok(Ok(_)) | Ok(Err(_)) => {
            return Finding::problem(
                check,
                format!("the host of callback_url {url} does not resolve"),
                "correct clients[].callback_url, or this host's DNS (/etc/resolv.conf)",
            );
        }
        Err(_) => {
            return Finding::problem(
                check,
                format!(
                    "resolving the host of callback_url {url} took over {}s",
                    timeout.as_secs()
                ),
                "check this host's DNS servers (/etc/resolv.conf)",
            );
        }
    }
    let http = match reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(h) => h,
        Err(e) => return Finding::problem(check, format!("HTTP client: {e}"), "report this fault"),
    };
    match http.get(url.clone()).send().await {
        Ok(resp) => Finding::ok(
            check,
            format!(
                "callback_url {url} answers (HTTP {})",
                resp.status().as_u16()
            ),
        ),
        Err(e) => {
            let what = if e.is_timeout() {
                format!("no answer within {}s", timeout.as_secs())
            } else if e.is_connect() {
                "the connection is refused or cannot be made".to_owned()
            } else {
                "the exchange failed".to_owned()
            };
            // The innermost cause reads best ("Connection refused (os error 111)").
            let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(&e);
            while let Some(next) = cause.and_then(|c| c.source()) {
                cause = Some(next);
            }
            let cause = cause.map(|c| format!(" ({c})")).unwrap_or_default();
            Finding::problem(
                check,
                format!("callback_url {url}: {what}{cause}"),
                "check that the dossier system runs and that this host may reach it (firewall, \
                 proxy, TLS); callbacks wait in the ledger until it answers",
            )
        }
    }
}
