//! The sandbox carrier (SPEC §8): an HTTP server speaking the carrier API of SPEC §5 (revised),
//! so that the [`VnPost`](crate::carrier::VnPost) adapter talks to it unchanged, answering in
//! each of the shapes §5 lists (seeded random by default, or pinned), and pushing reports in
//! the envelope of SPEC §6, signed or encrypted. Orders move through a realistic journey on an
//! accelerated clock; cancellations may await approval; the sandbox quotes postage, prints
//! waybills (real PDFs) and serves VNPost's address catalogues, and misbehaves on request
//! (errors, latency, answers withheld after the order was created, token expiry, duplicate /
//! dropped / late / out-of-order pushes).
//!
//! Orders live in memory: restarting the sandbox forgets them, and finished orders are
//! forgotten `forget_finished_after` after they finished.
//!
//! Tests and tools steer it through `/_sandbox/…` (listed in `server.rs`) or through the
//! [`SandboxHandle`] returned by [`start`].

mod catalogue;
mod fees;
#[cfg(test)]
mod http_tests;
mod journey;
mod pusher;
mod server;
pub mod shapes;
mod waybill;

pub use crate::config::{
    Chance, DEFAULT_GATEWAY_KEY_PATH, DEFAULT_SIGNING_KEY_PATH, PendingOutcome, PushDateFormat,
    PushMode, SandboxConfig,
};
pub use journey::{CancelCase, CaseOutcome, Order, Step, status_name};
pub use shapes::{Shape, ShapeMode, ShapePins, Variant};

use crate::config::Secret;
use anyhow::Context;
use journey::Book;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// SANDBOX ONLY: the private half of the development key pair in `config/sandbox/`, published
/// with the source on purpose so that the sandbox signs pushes from any working directory.
/// Nothing real may ever be signed with it or trust it.
pub const SANDBOX_PRIVATE_KEY_PEM: &str =
    include_str!("../../../config/sandbox/carrier-push-private.pem");

/// The gateway's development public key, compiled in like the signing key.
const GATEWAY_PUBLIC_KEY_PEM: Option<&str> =
    Some(crate::carrier::push::SANDBOX_GATEWAY_PUBLIC_KEY_PEM);

/// Reads a key file; the default path falls back to the compiled-in key, so that the
/// defaults work from any directory.
fn read_key(
    path: &std::path::Path,
    default_path: &str,
    compiled_in: Option<&str>,
    key_name: &str,
) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(pem) => Ok(Some(pem)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && path.as_os_str() == default_path => {
            Ok(compiled_in.map(str::to_owned))
        }
        Err(e) => anyhow::bail!(
            "carrier.sandbox.{key_name}: cannot read {}: {e}",
            path.display()
        ),
    }
}

impl SandboxConfig {
    /// Listens on `listen`.
    pub fn bind(&self) -> anyhow::Result<TcpListener> {
        TcpListener::bind(self.listen)
            .with_context(|| format!("carrier.sandbox.listen: cannot listen on {}", self.listen))
    }

    fn push_keys(&self) -> anyhow::Result<pusher::PushKeys> {
        let private = read_key(
            &self.push_signing_key,
            DEFAULT_SIGNING_KEY_PATH,
            Some(SANDBOX_PRIVATE_KEY_PEM),
            "push_signing_key",
        )?
        .expect("the signing key is compiled in");
        let gateway = read_key(
            &self.push_encryption_key,
            DEFAULT_GATEWAY_KEY_PATH,
            GATEWAY_PUBLIC_KEY_PEM,
            "push_encryption_key",
        )?;
        let keys = pusher::PushKeys::from_pem(&private, gateway.as_deref())?;
        if self.push_mode == PushMode::Encryption && !keys.can_encrypt() {
            anyhow::bail!(
                "carrier.sandbox.push_mode = \"encryption\" needs push_encryption_key (the gateway's public key)"
            );
        }
        Ok(keys)
    }

    fn check(&self) -> anyhow::Result<()> {
        shapes::check_pins(&self.shape_pins).map_err(|e| anyhow::anyhow!("carrier.sandbox.{e}"))
    }
}

/// Writes [`Faults`] and [`FaultsPatch`] from the list of `config::sandbox`.
macro_rules! faults {
    ($($(#[$attr:meta])* $name:ident: $ty:ty = $default:expr),* $(,)?) => {
        /// The settings that can change while the sandbox runs (`POST /_sandbox/faults`),
        /// starting from the configuration's.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct Faults {
            $($(#[$attr])* pub $name: $ty,)*
        }

        impl From<&SandboxConfig> for Faults {
            fn from(c: &SandboxConfig) -> Self {
                Faults {
                    $($name: Clone::clone(&c.$name),)*
                }
            }
        }

        /// Any subset of [`Faults`], applied at once.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct FaultsPatch {
            $(
                $(#[$attr])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $name: Option<$ty>,
            )*
        }

        impl Faults {
            fn apply(&mut self, p: &FaultsPatch) {
                $(
                    if let Some(v) = &p.$name {
                        self.$name = Clone::clone(v);
                    }
                )*
            }
        }
    };
}

crate::sandbox_faults!(faults);

/// Counters (`GET /_sandbox/stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Tokens issued.
    pub logins: u64,
    pub login_failures: u64,
    /// `CreateOrder` calls that reached the handler (refused ones included).
    pub create_calls: u64,
    pub refused_creates: u64,
    /// Orders in the book.
    pub orders: u64,
    /// Finished orders forgotten.
    pub forgotten: u64,
    /// Calls answered 401 for a missing, unknown or expired token.
    pub unauthorized: u64,
    /// Calls answered 503 by `error_rate`.
    pub injected_errors: u64,
    /// `CreateOrder` answers withheld by `timeout_after_create_rate`.
    pub withheld_answers: u64,
    pub cancels: u64,
    /// Cancellations answered `"02"` (awaiting approval).
    pub pending_cancels: u64,
    pub pushes_sent: u64,
    pub pushes_failed: u64,
    pub pushes_dropped: u64,
    pub pushes_duplicated: u64,
    /// Pushes that carried more than one record.
    pub pushes_batched: u64,
}

#[derive(Default)]
struct Counters {
    logins: AtomicU64,
    login_failures: AtomicU64,
    create_calls: AtomicU64,
    refused_creates: AtomicU64,
    forgotten: AtomicU64,
    unauthorized: AtomicU64,
    injected_errors: AtomicU64,
    withheld_answers: AtomicU64,
    cancels: AtomicU64,
    pending_cancels: AtomicU64,
    pushes_sent: AtomicU64,
    pushes_failed: AtomicU64,
    pushes_dropped: AtomicU64,
    pushes_duplicated: AtomicU64,
    pushes_batched: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// The state shared by the HTTP workers, the journey ticker and the pusher.
struct Sandbox {
    username: String,
    password: Secret,
    customer_code: String,
    faults: Mutex<Faults>,
    /// Wakes the ticker when `step` changes.
    faults_changed: Notify,
    /// Draws the answer shapes (its own seeded generator).
    shapes: Mutex<shapes::Picker>,
    /// Issued tokens and when they expire.
    tokens: Mutex<HashMap<String, Instant>>,
    book: Mutex<Book>,
    pushes: Option<pusher::Queue>,
    counters: Arc<Counters>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves plain data behind: keep serving.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Sandbox {
    fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    fn set_faults(&self, patch: &FaultsPatch) -> Result<Faults, String> {
        if let Some(pins) = &patch.shape_pins {
            shapes::check_pins(pins)?;
        }
        if patch.push_mode == Some(PushMode::Encryption)
            && self.pushes.as_ref().is_some_and(|q| !q.can_encrypt())
        {
            return Err(
                "push_mode \"encryption\" needs push_encryption_key (the gateway's public key)"
                    .into(),
            );
        }
        let mut f = lock(&self.faults);
        f.apply(patch);
        if let Some(seed) = patch.shape_seed {
            *lock(&self.shapes) = shapes::Picker::new(seed);
        }
        if patch.step.is_some() {
            // Only then: restarting the ticker's wait on every change could stall journeys.
            self.faults_changed.notify_one();
        }
        Ok(f.clone())
    }

    /// The variant of `shape` for the answer being written.
    fn shape(&self, shape: Shape) -> u8 {
        let (mode, pins) = {
            let f = lock(&self.faults);
            (f.shapes, f.shape_pins.clone())
        };
        lock(&self.shapes).pick(shape, mode, &pins)
    }

    fn issue_token(&self) -> String {
        let token = hex::encode(rand::rng().random::<[u8; 24]>());
        let now = Instant::now();
        let expires = now + self.faults().token_ttl;
        let mut tokens = lock(&self.tokens);
        tokens.retain(|_, &mut until| until > now);
        tokens.insert(token.clone(), expires);
        bump(&self.counters.logins);
        token
    }

    fn token_valid(&self, token: Option<&str>) -> bool {
        let valid = token.is_some_and(|t| {
            lock(&self.tokens)
                .get(t)
                .is_some_and(|&until| until > Instant::now())
        });
        if !valid {
            bump(&self.counters.unauthorized);
        }
        valid
    }

    fn expire_tokens(&self) -> usize {
        let mut tokens = lock(&self.tokens);
        let n = tokens.len();
        tokens.clear();
        n
    }

    /// Moves every live order one step, then forgets the orders finished long enough ago;
    /// returns how many moved.
    fn advance(&self) -> usize {
        let faults = self.faults();
        let now = chrono::Utc::now();
        let (changes, forgotten) = {
            let mut book = lock(&self.book);
            let changes = book.advance(&faults, &mut rand::rng(), now);
            (
                changes,
                book.forget_finished(faults.forget_finished_after, now),
            )
        };
        self.counters
            .forgotten
            .fetch_add(forgotten as u64, Ordering::Relaxed);
        let n = changes.len();
        self.push(changes);
        n
    }

    fn push(&self, changes: Vec<journey::Change>) {
        if let Some(q) = &self.pushes {
            let faults = self.faults();
            for c in changes {
                q.send(c, &faults);
            }
        }
    }

    fn orders(&self) -> Vec<Order> {
        lock(&self.book).all()
    }

    fn stats(&self) -> Stats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            logins: get(&c.logins),
            login_failures: get(&c.login_failures),
            create_calls: get(&c.create_calls),
            refused_creates: get(&c.refused_creates),
            orders: lock(&self.book).len() as u64,
            forgotten: get(&c.forgotten),
            unauthorized: get(&c.unauthorized),
            injected_errors: get(&c.injected_errors),
            withheld_answers: get(&c.withheld_answers),
            cancels: get(&c.cancels),
            pending_cancels: get(&c.pending_cancels),
            pushes_sent: get(&c.pushes_sent),
            pushes_failed: get(&c.pushes_failed),
            pushes_dropped: get(&c.pushes_dropped),
            pushes_duplicated: get(&c.pushes_duplicated),
            pushes_batched: get(&c.pushes_batched),
        }
    }
}

/// Advances the orders every `step`, following changes of `step` as they come.
async fn tick(sandbox: Arc<Sandbox>) {
    // Longer sleeps are pointless and tokio caps timers at about two years.
    const LONGEST: Duration = Duration::from_secs(365 * 24 * 3600);
    loop {
        let step = sandbox.faults().step;
        if step.is_zero() {
            sandbox.faults_changed.notified().await;
            continue;
        }
        tokio::select! {
            () = tokio::time::sleep(step.min(LONGEST)) => {
                let moved = sandbox.advance();
                tracing::trace!(moved, "sandbox carrier step");
            }
            () = sandbox.faults_changed.notified() => {}
        }
    }
}

/// A running sandbox. Dropping the handle stops it.
pub struct SandboxHandle {
    addr: SocketAddr,
    server: actix_web::dev::ServerHandle,
    tasks: Vec<JoinHandle<()>>,
    sandbox: Arc<Sandbox>,
}

impl SandboxHandle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>/`: the `carrier.base_url` that reaches it.
    pub fn base_url(&self) -> url::Url {
        url::Url::parse(&format!("http://{}/", self.addr)).expect("a socket address makes a URL")
    }

    /// Moves every live order one step now; returns how many moved.
    pub fn advance(&self) -> usize {
        self.sandbox.advance()
    }

    pub fn faults(&self) -> Faults {
        self.sandbox.faults()
    }

    /// Changes the given settings at once; returns the settings now in force.
    ///
    /// # Panics
    /// On a patch the sandbox refuses (a shape pin beyond its shape's variants, encryption
    /// without the gateway's key): a test's mistake.
    pub fn set_faults(&self, patch: &FaultsPatch) -> Faults {
        self.try_set_faults(patch)
            .unwrap_or_else(|e| panic!("sandbox settings refused: {e}"))
    }

    /// Changes the given settings at once, or says why not.
    pub fn try_set_faults(&self, patch: &FaultsPatch) -> Result<Faults, String> {
        self.sandbox.set_faults(patch)
    }

    /// Makes every issued token invalid; returns how many there were.
    pub fn expire_tokens(&self) -> usize {
        self.sandbox.expire_tokens()
    }

    pub fn orders(&self) -> Vec<Order> {
        self.sandbox.orders()
    }

    pub fn stats(&self) -> Stats {
        self.sandbox.stats()
    }

    /// Stops the server (without waiting for requests in progress) and the background tasks.
    pub async fn stop(mut self) {
        self.server.stop(false).await;
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        // `stop` sends the command at once; the returned future only waits for completion.
        drop(self.server.stop(false));
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Starts the sandbox on `listener` in the background of the current tokio runtime: the HTTP
/// server, the journey ticker and, when `push_url` is set, the pusher.
pub async fn start(cfg: SandboxConfig, listener: TcpListener) -> anyhow::Result<SandboxHandle> {
    cfg.check()?;
    let addr = listener
        .local_addr()
        .context("carrier sandbox: listener address")?;
    let mut tasks = Vec::new();
    let counters = Arc::new(Counters::default());
    let pushes = match &cfg.push_url {
        Some(url) => {
            let (queue, task) = pusher::spawn(
                url.clone(),
                cfg.push_keys()?,
                cfg.customer_code.clone(),
                counters.clone(),
            )?;
            tasks.push(task);
            Some(queue)
        }
        None => None,
    };
    let sandbox = Arc::new(Sandbox {
        username: cfg.username.clone(),
        password: cfg.password.clone(),
        customer_code: cfg.customer_code.clone(),
        faults: Mutex::new(Faults::from(&cfg)),
        faults_changed: Notify::new(),
        shapes: Mutex::new(shapes::Picker::new(cfg.shape_seed)),
        tokens: Mutex::new(HashMap::new()),
        book: Mutex::new(Book::new(&mut rand::rng())),
        pushes,
        counters,
    });
    let server = server::run(sandbox.clone(), listener)?;
    let handle = server.handle();
    tasks.push(tokio::spawn(async move {
        if let Err(e) = server.await {
            tracing::error!(error = %e, "the sandbox carrier stopped");
        }
    }));
    tasks.push(tokio::spawn(tick(sandbox.clone())));
    tracing::info!(%addr, push_url = cfg.push_url.as_ref().map(|u| u.as_str()), "sandbox carrier started");
    Ok(SandboxHandle {
        addr,
        server: handle,
        tasks,
        sandbox,
    })
}

/// Seeds for the month's reconciliation tests (issue 10 §3): VNPost's list made to differ
/// from what the gateway was told.
impl SandboxHandle {
    /// VNPost now charges `fee` đồng for the order; false for an unknown item code.
    pub fn seed_fee(&self, item_code: &str, fee: i64) -> bool {
        lock(&self.sandbox.book).set_fee(item_code, fee)
    }

    /// `GetListOrder` leaves the order out.
    pub fn seed_hidden(&self, item_code: &str) -> bool {
        lock(&self.sandbox.book).hide_from_list(item_code)
    }

    /// A report of `code` (21 COD paid out, 29 cancellation fee) on the order, pushed as any
    /// change; false for an unknown item code.
    pub fn seed_report(&self, item_code: &str, code: i32) -> bool {
        let change = lock(&self.sandbox.book).report(item_code, code, chrono::Utc::now());
        let found = change.is_some();
        self.sandbox.push(change.into_iter().collect());
        found
    }

    /// An order the gateway never asked for (made by hand in VNPost's portal): listed by
    /// `GetListOrder`, unknown to the ledger.
    pub fn seed_foreign_order(&self, sale_order_code: &str) -> Order {
        let new = journey::NewOrder {
            sale_order_code: sale_order_code.to_owned(),
            service_code: "CTN001".into(),
            weight_grams: 500,
            sender_province_code: "08".into(),
            sender_commune_code: "02215".into(),
            receiver_province_code: "08".into(),
            receiver_commune_code: "00700".into(),
            send_type: "1".into(),
            cod_vnd: 0,
            declared_vnd: 0,
        };
        lock(&self.sandbox.book).create(new, chrono::Utc::now()).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_toml(text: &str) -> Result<SandboxConfig, String> {
        use figment::providers::{Format, Toml};
        figment::Figment::from(Toml::string(text))
            .extract()
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_overrides_from_toml() {
        let c = from_toml("").unwrap();
        assert_eq!(
            (c.step, c.return_chance, c.push_url),
            (Duration::from_secs(5), Chance::new(0.03).unwrap(), None)
        );
        let c = from_toml("step = \"1s\"\nerror_rate = 1\npush_url = \"http://127.0.0.1:8080/v1/carrier/vnpost/webhook\"").unwrap();
        assert_eq!(
            (c.step, c.error_rate),
            (Duration::from_secs(1), Chance::ALWAYS)
        );
        assert_eq!(c.return_chance, Chance::new(0.03).unwrap());
        assert!(c.push_url.is_some());
        let e = from_toml("return_chance = 3").unwrap_err().to_string();
        assert!(e.contains("between 0 and 1"), "{e}");
        assert!(from_toml("stepp = \"1s\"").is_err());
    }

    #[test]
    fn the_default_file_documents_every_key() {
        let c = crate::config::Config::from_overlay("").unwrap();
        let d = SandboxConfig::default();
        assert_eq!(c.carrier.sandbox.listen, d.listen);
        assert_eq!(Faults::from(&c.carrier.sandbox), Faults::from(&d));
        assert_eq!(c.carrier.sandbox.push_signing_key, d.push_signing_key);
        let text = crate::config::DEFAULT_TOML;
        let section = &text[text.find("[carrier.sandbox]").unwrap()..];
        let faults = serde_json::to_value(Faults::from(&d)).unwrap();
        let keys = faults.as_object().unwrap().keys().map(String::as_str);
        for key in keys.chain([
            "listen",
            "username",
            "password",
            "customer_code",
            "push_url",
            "push_signing_key",
            "push_encryption_key",
        ]) {
            assert!(
                section.contains(&format!("{key} =")),
                "{key} is not in config/default.toml"
            );
        }
    }

    #[test]
    fn chances_are_probabilities() {
        let e = serde_json::from_str::<FaultsPatch>(r#"{"error_rate": 1.5}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("between 0 and 1"), "{e}");
        let p: FaultsPatch =
            serde_json::from_str(r#"{"error_rate": 0, "step": "0s", "push_reorder": true}"#)
                .unwrap();
        let mut f = Faults::from(&SandboxConfig::default());
        f.apply(&p);
        assert_eq!(
            (f.error_rate, f.step, f.push_reorder),
            (Chance::NEVER, Duration::ZERO, true)
        );
        assert_eq!(f.return_chance, Chance::new(0.03).unwrap());
        assert!(serde_json::from_str::<FaultsPatch>(r#"{"eror_rate": 0}"#).is_err());
    }

    #[test]
    fn the_keys_are_found_from_anywhere() {
        let keys = SandboxConfig::default().push_keys().unwrap();
        assert_eq!(keys.can_encrypt(), GATEWAY_PUBLIC_KEY_PEM.is_some());
        let missing = SandboxConfig {
            push_signing_key: "/nonexistent/key.pem".into(),
            ..SandboxConfig::default()
        };
        let e = missing.push_keys().unwrap_err().to_string();
        assert!(e.contains("push_signing_key"), "{e}");
        let missing = SandboxConfig {
            push_encryption_key: "/nonexistent/key.pem".into(),
            ..SandboxConfig::default()
        };
        let e = missing.push_keys().unwrap_err().to_string();
        assert!(e.contains("push_encryption_key"), "{e}");
    }

    #[test]
    fn shape_pins_are_checked_at_start() {
        let c = from_toml("shapes = \"second\"\nshape_pins = { history = 3, error = 4 }").unwrap();
        assert_eq!(c.shapes, ShapeMode::Second);
        c.check().unwrap();
        let c = from_toml("shape_pins = { get_order = 3 }").unwrap();
        assert!(c.check().unwrap_err().to_string().contains("get_order"));
        assert!(from_toml("shapes = \"fifth\"").is_err());
    }
}
