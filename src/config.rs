//! Configuration: the commented `config/default.toml` (compiled in), a `--config` file over
//! it, then `BCCI_…` environment variables and `DATABASE_URL` (figment). Invalid
//! configuration stops start-up with a message naming the key.
//!
//! A leaf: any part may read it, and it imports no part but `domain` (the sandbox's settings
//! live in `config::sandbox`; the push keys stay PEM text, checked here and parsed into
//! verifiers by `carrier::push`).

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

mod sandbox;

pub use sandbox::{
    Chance, DEFAULT_GATEWAY_KEY_PATH, DEFAULT_SIGNING_KEY_PATH, PendingOutcome, PushDateFormat,
    PushMode, SandboxConfig, Shape, ShapeMode, ShapePins, Variant, check_pins,
};

pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: Server,
    pub database: Database,
    pub auth: Auth,
    pub idempotency: Idempotency,
    pub shipments: Shipments,
    #[serde(default)]
    pub clients: Vec<Client>,
    #[serde(default)]
    pub offices: Vec<Office>,
    pub carrier: Carrier,
    pub jobs: Jobs,
    pub tracking: Tracking,
    pub callbacks: Callbacks,
    pub console: Console,
    #[serde(default)]
    pub retention: Retention,
    pub limits: Limits,
    pub citizen: Citizen,
    #[serde(default)]
    pub reconcile: Reconcile,
}

/// The citizens' tracking page `/tra-cuu` (issue 10 §1).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Citizen {
    /// HMAC-SHA256 key of the tracking links' tokens (at least 32 bytes). Changing it voids
    /// every link and QR code already printed.
    pub token_key: Secret,
    /// Form look-ups a minute per client IP (at least 1), past which the page answers 429.
    pub lookups_per_minute: u32,
    /// Behind a reverse proxy: the client IP is the last `X-Forwarded-For` hop (the one the
    /// proxy added), not the connection's peer.
    pub trust_forwarded_for: bool,
    /// The carrier's public tracking page, `{tracking_number}` replaced.
    pub carrier_tracking_url: String,
}

/// The month's reconciliation with VNPost (issue 10 §3).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reconcile {
    /// Days after delivery by which VNPost should have paid the cash on delivery out to the
    /// department (code 21); past them the shipment is listed as a difference.
    pub cod_payout_days: u32,
}

impl Default for Reconcile {
    fn default() -> Self {
        Reconcile { cod_payout_days: 7 }
    }
}

/// Requests a minute, per caller, past which the gateway answers 429 (issue 11 §3). 0 turns
/// a limit off. Each kind of caller has its own buckets, so that one dossier system in a loop
/// cannot starve the others, staff or the carrier.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Per dossier system (the token's `sub`).
    pub client_per_minute: u32,
    /// Per staff member (the token's `sub`), through the API.
    pub staff_per_minute: u32,
    /// The carrier's webhook, all pushes together (one sender).
    pub webhook_per_minute: u32,
}

/// How long personal data of a finished shipment is kept (issue 11 §2, Decree 13/2023/NĐ-CP).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Days after a shipment finished (delivered, returned, cancelled, rejected) before its
    /// personal data is erased by housekeeping.
    pub personal_data_days: u32,
    /// At most this many shipments are erased per housekeeping run.
    pub batch: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            personal_data_days: 365,
            batch: 500,
        }
    }
}

/// The staff console at `/console` (issue 5).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Console {
    /// How long a console session lasts (never longer than the token it was opened with).
    #[serde(with = "humantime_serde")]
    pub session_lifetime: Duration,
    pub cookie_name: String,
    pub cookie_secure: CookieSecure,
    /// Rows per page of search results and lists.
    pub page_size: usize,
    /// A shipment in progress not heard of for this long needs attention.
    #[serde(with = "humantime_serde")]
    pub quiet_after: Duration,
    /// The department, as named at the head of its letters.
    pub department: String,
    /// Where letters are written ("Tuyên Quang, ngày …").
    pub place: String,
    /// The apology letter (thư xin lỗi), with `{placeholders}`; see config/default.toml.
    pub apology_template: String,
}

/// When the console cookie carries `Secure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CookieSecure {
    /// When `server.public_url` is https.
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Callbacks {
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_min: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
    #[serde(with = "humantime_serde")]
    pub give_up_after: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Jobs {
    pub enabled: bool,
    pub max_in_flight: usize,
    /// Connections of the background pool (jobs, tracking, housekeeping), apart from
    /// `database.pool_size`, which serves requests only.
    pub pool_size: usize,
    /// Above this smoothed wait for a background connection, fewer jobs run at once.
    #[serde(with = "humantime_serde")]
    pub db_wait_target: Duration,
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    #[serde(with = "humantime_serde")]
    pub reap_interval: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_min: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_after_cap: Duration,
    #[serde(with = "humantime_serde")]
    pub give_up_after: Duration,
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// How often the outcome of a cancellation awaiting VNPost's approval is asked for.
    #[serde(with = "humantime_serde")]
    pub cancel_case_interval: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tracking {
    pub enabled: bool,
    #[serde(with = "humantime_serde")]
    pub quiet_after: Duration,
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    pub batch: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub listen: SocketAddr,
    pub public_url: url::Url,
    pub body_limit_bytes: usize,
    pub workers: usize,
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    pub url: Secret,
    pub create_if_missing: bool,
    pub pool_size: usize,
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    pub issuer: String,
    pub audience: String,
    pub hs256_secret: Secret,
    #[serde(with = "humantime_serde")]
    pub leeway: Duration,
    #[serde(default)]
    pub keys: Vec<AuthKey>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum KeyAlgorithm {
    HS256,
    RS256,
    EdDSA,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthKey {
    pub kid: String,
    pub algorithm: KeyAlgorithm,
    pub public_key_pem: Option<Secret>,
    pub secret: Option<Secret>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Idempotency {
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shipments {
    #[serde(with = "humantime_serde")]
    pub pickup_window: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub callback_url: url::Url,
    pub callback_secret: Secret,
    /// The next secret during a rotation: callbacks carry both signatures.
    pub callback_secret_next: Option<Secret>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Office {
    pub code: String,
    pub name: String,
    pub phone: String,
    pub address: OfficeAddress,
    /// How the carrier takes this office's deliveries: `"1"` collected at the office (the
    /// default), `"2"` handed in at a post office. Pickups are always `"1"`.
    #[serde(default)]
    pub send_type: crate::domain::send_type::SendType,
    /// The office's post-office codes at VNPost, when VNPost gave them.
    pub org_code_collect: Option<String>,
    pub org_code_accept: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficeAddress {
    pub line: String,
    pub province_code: String,
    pub commune_code: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CarrierKind {
    Sandbox,
    Vnpost,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Carrier {
    pub kind: CarrierKind,
    pub base_url: url::Url,
    pub username: String,
    pub password: Secret,
    pub customer_code: String,
    pub contract_code: String,
    pub service_code: String,
    pub weight_grams: u32,
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// The carrier's key checking its pushes (SPEC §6). Required with `kind = "vnpost"`; with
    /// `kind = "sandbox"` and no key, the sandbox's development key is trusted.
    /// PEM RSA public key (SPKI or PKCS#1), checked when the configuration is read.
    pub webhook_public_key_pem: Option<Secret>,
    /// The carrier's next key during a rotation: a push verifying with either is accepted.
    pub webhook_public_key_pem_next: Option<Secret>,
    /// How pushes are authenticated (SPEC §6).
    pub webhook_mode: WebhookMode,
    /// `encryption` mode: the gateway's own private key (PEM, PKCS#8 or PKCS#1), and the next
    /// one during a rotation. Required in that mode with `kind = "vnpost"`; with
    /// `kind = "sandbox"` and no key, the sandbox's development key is used.
    pub webhook_private_key_pem: Option<Secret>,
    pub webhook_private_key_pem_next: Option<Secret>,
    /// Largest push body read (413 above it).
    pub webhook_body_limit_bytes: usize,
    /// Single carrier status codes mapped otherwise than SPEC §5's table: code → a status
    /// name, or "record" (kept, no status change).
    #[serde(default)]
    pub status_codes: crate::domain::carrier_codes::CodeTable,
    /// Official 2025 commune codes that VNPost writes otherwise: official → VNPost.
    #[serde(default)]
    pub commune_codes: std::collections::BTreeMap<String, String>,
    /// An extra trusted root certificate (PEM) for the carrier's TLS, e.g. a test host's.
    pub tls_ca_pem: Option<Secret>,
    /// The built-in carrier simulator (SPEC §8), used when `kind = "sandbox"`.
    #[serde(default)]
    pub sandbox: SandboxConfig,
}

impl Carrier {
    /// The PEM keys of `webhook_mode` the webhook trusts: the configured key and, during a
    /// rotation, the next. Empty when none is set, which only the sandbox allows: it then
    /// trusts its compiled-in development key (`carrier::push::PushKeys::from_config`).
    pub fn webhook_keys(&self) -> Vec<&str> {
        let [first, next] = match self.webhook_mode {
            WebhookMode::Signature => [
                &self.webhook_public_key_pem,
                &self.webhook_public_key_pem_next,
            ],
            WebhookMode::Encryption => [
                &self.webhook_private_key_pem,
                &self.webhook_private_key_pem_next,
            ],
        };
        [first, next]
            .into_iter()
            .flatten()
            .map(Secret::expose)
            .collect()
    }

    /// Every configured key parses, whatever the mode (so that a bad one is found before the
    /// day the mode is switched), and the mode in use has its key.
    fn check_webhook_keys(&self) -> Result<(), ConfigError> {
        use crate::domain::pem_keys;
        for (key, pem) in [
            (
                "carrier.webhook_public_key_pem",
                &self.webhook_public_key_pem,
            ),
            (
                "carrier.webhook_public_key_pem_next",
                &self.webhook_public_key_pem_next,
            ),
        ] {
            if let Some(pem) = pem {
                pem_keys::public_key(pem.expose())
                    .map_err(|e| invalid(key, format!("is not a PEM RSA public key: {e}")))?;
            }
        }
        for (key, pem) in [
            (
                "carrier.webhook_private_key_pem",
                &self.webhook_private_key_pem,
            ),
            (
                "carrier.webhook_private_key_pem_next",
                &self.webhook_private_key_pem_next,
            ),
        ] {
            if let Some(pem) = pem {
                pem_keys::decryption_key(pem.expose())
                    .map_err(|e| invalid(key, format!("is not a PEM RSA private key: {e}")))?;
            }
        }
        let (first, next, count) = match self.webhook_mode {
            WebhookMode::Signature => (
                "carrier.webhook_public_key_pem",
                "carrier.webhook_public_key_pem_next",
                [
                    &self.webhook_public_key_pem,
                    &self.webhook_public_key_pem_next,
                ]
                .map(Option::is_some),
            ),
            WebhookMode::Encryption => (
                "carrier.webhook_private_key_pem",
                "carrier.webhook_private_key_pem_next",
                [
                    &self.webhook_private_key_pem,
                    &self.webhook_private_key_pem_next,
                ]
                .map(Option::is_some),
            ),
        };
        let mode = self.webhook_mode.as_str();
        match count {
            [false, true] => Err(invalid(
                next,
                format!("is the next key of a rotation: {first} must be set too"),
            )),
            [false, false] if self.kind == CarrierKind::Vnpost => {
                let what = match self.webhook_mode {
                    WebhookMode::Signature => "VNPost's PEM public key that checks its signatures",
                    WebhookMode::Encryption => {
                        "the gateway's PEM private key that decrypts the pushes' signatures"
                    }
                };
                Err(invalid(
                    first,
                    format!(
                        "is required with carrier.kind = \"vnpost\" and webhook_mode = \"{mode}\": {what}"
                    ),
                ))
            }
            _ => Ok(()),
        }
    }
}

/// How the carrier's pushes prove where they come from (SPEC §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookMode {
    /// `signature` is RSA-SHA256 by VNPost's private key, checked with its public key.
    Signature,
    /// `signature` is the signed text RSA-encrypted (PKCS#1 v1.5) with the gateway's public
    /// key, checked by decrypting with the gateway's private key.
    Encryption,
}

impl WebhookMode {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookMode::Signature => "signature",
            WebhookMode::Encryption => "encryption",
        }
    }
}

/// A secret value: literal, or `file:/path`. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        match raw.strip_prefix("file:") {
            Some(path) => std::fs::read_to_string(path)
                .map(|s| Secret(s.trim_end_matches(['\n', '\r']).to_owned()))
                .map_err(|e| {
                    serde::de::Error::custom(format!("cannot read secret file {path}: {e}"))
                }),
            None => Ok(Secret(raw)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

impl Config {
    /// Loads the layered configuration: defaults, `file`, environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            if !path.exists() {
                return Err(invalid(
                    "--config",
                    format!("file {} does not exist", path.display()),
                ));
            }
            fig = fig.merge(Toml::file(path));
        }
        Self::from_figment(
            fig.merge(
                Env::prefixed("BCCI_")
                    .filter(|k| k != "log" && k != "config")
                    .split("__"),
            )
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL"])
                    .map(|_| "database.url".into()),
            ),
        )
    }

    /// Loads from the compiled-in defaults with a TOML overlay given as text (tests).
    pub fn from_overlay(toml: &str) -> Result<Config, ConfigError> {
        Self::from_overlays(&[toml])
    }

    /// Loads from the compiled-in defaults with TOML overlays, later ones winning.
    pub fn from_overlays(overlays: &[&str]) -> Result<Config, ConfigError> {
        let fig = overlays
            .iter()
            .fold(Figment::from(Toml::string(DEFAULT_TOML)), |f, t| {
                f.merge(Toml::string(t))
            });
        Self::from_figment(fig)
    }

    fn from_figment(fig: Figment) -> Result<Config, ConfigError> {
        let config: Config = fig.extract().map_err(|e| ConfigError::Load(Box::new(e)))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        use crate::domain::admin_units::AdminUnits;
        if self.auth.hs256_secret.expose().len() < 32 {
            return Err(invalid("auth.hs256_secret", "must be at least 32 bytes"));
        }
        if self.auth.issuer.is_empty() {
            return Err(invalid("auth.issuer", "must not be empty"));
        }
        if self.auth.audience.is_empty() {
            return Err(invalid("auth.audience", "must not be empty"));
        }
        for (i, k) in self.auth.keys.iter().enumerate() {
            let key = format!("auth.keys[{i}]");
            match k.algorithm {
                KeyAlgorithm::HS256 if k.secret.as_ref().is_none_or(|s| s.expose().len() < 32) => {
                    return Err(invalid(
                        format!("{key}.secret"),
                        "HS256 keys need a secret of at least 32 bytes",
                    ));
                }
                KeyAlgorithm::RS256 | KeyAlgorithm::EdDSA if k.public_key_pem.is_none() => {
                    return Err(invalid(
                        format!("{key}.public_key_pem"),
                        "RS256 and EdDSA keys need a PEM public key",
                    ));
                }
                _ => {}
            }
        }
        if self.retention.personal_data_days == 0 {
            return Err(invalid(
                "retention.personal_data_days",
                "must be at least 1",
            ));
        }
        if self.retention.batch == 0 {
            return Err(invalid("retention.batch", "must be at least 1"));
        }
        if self.database.pool_size == 0 {
            return Err(invalid("database.pool_size", "must be at least 1"));
        }
        if self.server.body_limit_bytes < 1024 {
            return Err(invalid("server.body_limit_bytes", "must be at least 1024"));
        }
        if self.idempotency.ttl < Duration::from_secs(24 * 3600) {
            return Err(invalid("idempotency.ttl", "must be at least 24h (SPEC §3)"));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, c) in self.clients.iter().enumerate() {
            if c.id.is_empty() || !seen.insert(&c.id) {
                return Err(invalid(
                    format!("clients[{i}].id"),
                    "must be non-empty and unique",
                ));
            }
            for (name, s) in [
                ("callback_secret", Some(&c.callback_secret)),
                ("callback_secret_next", c.callback_secret_next.as_ref()),
            ] {
                if let Some(s) = s
                    && !s.expose().starts_with("whsec_")
                {
                    return Err(invalid(
                        format!("clients[{i}].{name}"),
                        "must start with whsec_",
                    ));
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (i, o) in self.offices.iter().enumerate() {
            if o.code.is_empty() || !seen.insert(&o.code) {
                return Err(invalid(
                    format!("offices[{i}].code"),
                    "must be non-empty and unique",
                ));
            }
            // The office is the sender of every delivery and the receiver of every pickup: a
            // blank name or address line makes the carrier refuse every order for it.
            for (key, value) in [("name", &o.name), ("address.line", &o.address.line)] {
                if value.trim().is_empty() {
                    return Err(invalid(format!("offices[{i}].{key}"), "must not be blank"));
                }
            }
            for (key, value) in [
                ("org_code_collect", &o.org_code_collect),
                ("org_code_accept", &o.org_code_accept),
            ] {
                if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                    return Err(invalid(
                        format!("offices[{i}].{key}"),
                        "must not be blank (leave it out when VNPost gave no code)",
                    ));
                }
            }
            if crate::domain::phone::normalise(&o.phone).is_none() && !is_landline(&o.phone) {
                return Err(invalid(
                    format!("offices[{i}].phone"),
                    "is not a Vietnamese phone number",
                ));
            }
            if AdminUnits::get()
                .check(&o.address.province_code, &o.address.commune_code)
                .is_err()
            {
                return Err(invalid(
                    format!("offices[{i}].address"),
                    "unknown province/commune code, or commune outside its province",
                ));
            }
        }
        // The one place that reads the mapping checks it (unknown official code, malformed
        // or shared VNPost code).
        if let Err(e) = crate::domain::commune_codes::CommuneCodes::new(&self.carrier.commune_codes)
        {
            return Err(invalid("carrier.commune_codes", e));
        }
        if self.jobs.cancel_case_interval.is_zero() {
            return Err(invalid("jobs.cancel_case_interval", "must be more than 0s"));
        }
        if self.jobs.max_in_flight == 0 {
            return Err(invalid("jobs.max_in_flight", "must be at least 1"));
        }
        // The worker's claim and one job's transaction at once, at least.
        if self.jobs.pool_size < 2 {
            return Err(invalid("jobs.pool_size", "must be at least 2"));
        }
        // A job must never be taken over while its worker may still be calling the carrier.
        if self.jobs.lease < 2 * (self.carrier.connect_timeout + self.carrier.timeout) * 2 {
            return Err(invalid(
                "jobs.lease",
                "must be at least twice the longest carrier exchange (2 calls, each with a re-login: 4 × (carrier.connect_timeout + carrier.timeout))",
            ));
        }
        if self.jobs.retry_min.is_zero() || self.jobs.retry_max < self.jobs.retry_min {
            return Err(invalid(
                "jobs.retry_max",
                "retry_min must be > 0 and retry_max >= retry_min",
            ));
        }
        if self.callbacks.retry_min.is_zero() || self.callbacks.retry_max < self.callbacks.retry_min
        {
            return Err(invalid(
                "callbacks.retry_max",
                "retry_min must be > 0 and retry_max >= retry_min",
            ));
        }
        if self.jobs.lease < 2 * self.callbacks.timeout {
            return Err(invalid(
                "jobs.lease",
                "must be at least twice callbacks.timeout",
            ));
        }
        let c = &self.carrier;
        c.check_webhook_keys()?;
        if c.webhook_body_limit_bytes < 1024 {
            return Err(invalid(
                "carrier.webhook_body_limit_bytes",
                "must be at least 1024",
            ));
        }
        if self.tracking.batch == 0 {
            return Err(invalid("tracking.batch", "must be at least 1"));
        }
        if self.offices.is_empty() {
            return Err(invalid("offices", "at least one office is needed"));
        }
        let console = &self.console;
        if console.session_lifetime < Duration::from_secs(60) {
            return Err(invalid(
                "console.session_lifetime",
                "must be at least 1 minute",
            ));
        }
        if console.cookie_name.is_empty()
            || !console
                .cookie_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(invalid(
                "console.cookie_name",
                "must be non-empty: letters, digits, '_' and '-' only",
            ));
        }
        if !(5..=200).contains(&console.page_size) {
            return Err(invalid("console.page_size", "must be from 5 to 200"));
        }
        if console.department.trim().is_empty() {
            return Err(invalid("console.department", "must not be empty"));
        }
        if let Err(message) = crate::domain::letter::check_template(&console.apology_template) {
            return Err(invalid("console.apology_template", message));
        }
        self.citizen.validate()?;
        Ok(())
    }

    pub fn office(&self, code: &str) -> Option<&Office> {
        self.offices.iter().find(|o| o.code == code)
    }

    pub fn client(&self, id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.id == id)
    }
}

impl Citizen {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.token_key.expose().len() < 32 {
            return Err(invalid("citizen.token_key", "must be at least 32 bytes"));
        }
        if self.lookups_per_minute == 0 {
            return Err(invalid("citizen.lookups_per_minute", "must be at least 1"));
        }
        let example = self
            .carrier_tracking_url
            .replace("{tracking_number}", "EB123456789VN");
        if example == self.carrier_tracking_url
            || !url::Url::parse(&example).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
        {
            return Err(invalid(
                "citizen.carrier_tracking_url",
                "must be an http(s) URL holding {tracking_number}",
            ));
        }
        Ok(())
    }
}

/// Offices may have landlines (`02xx` + 7 digits), which citizens' numbers may not.
fn is_landline(p: &str) -> bool {
    p.len() == 11 && p.starts_with("02") && p.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let c = Config::from_overlay("").unwrap();
        assert_eq!(c.server.listen.port(), 8080);
        assert_eq!(c.shipments.pickup_window, Duration::from_secs(48 * 3600));
        assert!(c.office("VPDKDD-TQ").is_some());
    }

    #[test]
    fn errors_name_the_key() {
        let e = Config::from_overlay("[auth]\nhs256_secret = \"short\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("auth.hs256_secret"), "{e}");
        let e = Config::from_overlay("[server]\nlisten = \"nowhere\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("server.listen"), "{e}");
        let e = Config::from_overlay("[shipments]\npickup_window = \"soon\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("pickup_window"), "{e}");
        let e = Config::from_overlay("[server]\nlisen = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("lisen"), "{e}");
    }

    #[test]
    fn an_office_the_carrier_would_refuse_is_a_configuration_error() {
        let office = |name: &str, line: &str, phone: &str, extra: &str| {
            format!(
                "[[offices]]\ncode = \"X\"\nname = \"{name}\"\nphone = \"{phone}\"\n{extra}\n\
                 address = {{ line = \"{line}\", province_code = \"08\", commune_code = \"02215\" }}\n"
            )
        };
        let ok = Config::from_overlay(&office(
            "Văn phòng",
            "Số 1",
            "02073822345",
            "send_type = \"2\"",
        ))
        .unwrap();
        assert_eq!(
            ok.offices[0].send_type,
            crate::domain::send_type::SendType::DropOff
        );
        for (toml, key) in [
            (office(" ", "Số 1", "02073822345", ""), "offices[0].name"),
            (
                office("Văn phòng", "", "02073822345", ""),
                "offices[0].address.line",
            ),
            (office("Văn phòng", "Số 1", "", ""), "offices[0].phone"),
            (
                office(
                    "Văn phòng",
                    "Số 1",
                    "02073822345",
                    "org_code_collect = \"\"",
                ),
                "offices[0].org_code_collect",
            ),
            (
                office("Văn phòng", "Số 1", "02073822345", "send_type = \"3\""),
                "send_type",
            ),
        ] {
            let e = Config::from_overlay(&toml).unwrap_err().to_string();
            assert!(e.contains(key), "{key}: {e}");
        }
    }

    #[test]
    fn carrier_code_overrides_are_checked_at_start_up() {
        let c = Config::from_overlay("[carrier.status_codes]\n8 = \"submitted\"").unwrap();
        assert_eq!(
            c.carrier.status_codes.meaning(8),
            crate::domain::carrier_codes::CodeMeaning::Status(crate::domain::Status::Submitted)
        );
        let e = Config::from_overlay("[carrier.status_codes]\n8 = \"sent\"")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("carrier.status_codes") && e.contains("code 8"),
            "{e}"
        );
        let e = Config::from_overlay("[carrier.commune_codes]\n\"99999\" = \"1\"")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("carrier.commune_codes") && e.contains("99999"),
            "{e}"
        );
        Config::from_overlay("[carrier.commune_codes]\n\"02215\" = \"02215A\"").unwrap();
    }

    #[test]
    fn secrets_are_not_printed() {
        let c = Config::from_overlay("").unwrap();
        let printed = format!("{c:?}");
        assert!(!printed.contains("dev-only-secret"), "{printed}");
        assert!(printed.contains("[redacted]"));
    }

    #[test]
    fn secret_from_file() {
        let dir = std::env::temp_dir().join(format!("bcci-secret-{}", std::process::id()));
        std::fs::write(&dir, "0123456789abcdef0123456789abcdef-from-file\n").unwrap();
        let c = Config::from_overlay(&format!(
            "[auth]\nhs256_secret = \"file:{}\"",
            dir.display()
        ))
        .unwrap();
        assert_eq!(
            c.auth.hs256_secret.expose(),
            "0123456789abcdef0123456789abcdef-from-file"
        );
        std::fs::remove_file(dir).unwrap();
    }
}
