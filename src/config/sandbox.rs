//! `[carrier.sandbox]`: the built-in carrier simulator's settings (SPEC §8) and their
//! vocabularies (probabilities, answer shapes, push modes), read and checked with the rest of
//! the configuration; `carrier::sandbox` runs on them.
//!
//! Which of the answer shapes SPEC §5 lists the sandbox uses for each answer: each way real
//! answers differ is a [`Shape`] with a few variants (numbered from 1, in the order SPEC §5
//! lists them). By default every answer draws its variants from one seeded generator
//! (`carrier::sandbox::shapes`); `shapes = "first"`, `"second"`, … pins every shape to that
//! variant (the last one where a shape has fewer), and `shape_pins` pins single shapes.

use super::Secret;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where the development signing key is, relative to the project root.
pub const DEFAULT_SIGNING_KEY_PATH: &str = "config/sandbox/carrier-push-private.pem";

/// Where the gateway's development public key is (encryption mode), relative to the project
/// root.
pub const DEFAULT_GATEWAY_KEY_PATH: &str = "config/sandbox/gateway-webhook-public.pem";

/// A probability, 0.0 to 1.0 (checked when the configuration is read).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Chance(f64);

impl Chance {
    pub const NEVER: Chance = Chance(0.0);
    pub const ALWAYS: Chance = Chance(1.0);

    pub fn new(p: f64) -> Option<Chance> {
        (0.0..=1.0).contains(&p).then_some(Chance(p))
    }

    pub fn get(self) -> f64 {
        self.0
    }

    /// True with this probability.
    pub fn roll(self, rng: &mut impl Rng) -> bool {
        rng.random_bool(self.0)
    }
}

impl TryFrom<f64> for Chance {
    type Error = String;
    fn try_from(p: f64) -> Result<Self, String> {
        Chance::new(p).ok_or_else(|| format!("{p} is not a probability between 0 and 1"))
    }
}

impl From<Chance> for f64 {
    fn from(c: Chance) -> f64 {
        c.0
    }
}

/// How a pending cancellation ends (`cancel_pending_outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingOutcome {
    /// `"00"`: cancelled; the order moves to 9 and a push is sent.
    #[default]
    Approve,
    /// `"01"` with VNPost's message; the order goes on.
    Refuse,
}

/// How a push is authenticated (`push_mode`), as `carrier.webhook_mode` expects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushMode {
    /// Signed (RSA-SHA256) with `push_signing_key`.
    #[default]
    Signature,
    /// Encrypted (RSA PKCS#1 v1.5) with `push_encryption_key`, the gateway's public key.
    Encryption,
}

/// The format of a push's `sendDate` (`push_date_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushDateFormat {
    /// `2026-12-01T10:00:00+07:00`
    Rfc3339,
    /// `01/12/2026 10:00:00` (UTC+7)
    Vietnam,
    /// Either, drawn for each push.
    #[default]
    Random,
}

/// The settings of `[carrier.sandbox]` that can also change while the sandbox runs (its
/// faults, `POST /_sandbox/faults`): the one list of them, with their defaults. It writes
/// [`SandboxConfig`] here and `carrier::sandbox::{Faults, FaultsPatch}` there: `callback!` is
/// invoked with the list, each entry `[docs and serde attributes] name: type = default`.
#[doc(hidden)]
#[macro_export]
macro_rules! sandbox_faults {
    ($callback:ident) => {
        $callback! {
            /// Time between journey steps; 0 = orders move only when told (`/_sandbox/advance`).
            #[serde(with = "humantime_serde")]
            step: std::time::Duration = std::time::Duration::from_secs(5),
            failed_attempt_chance: $crate::config::Chance = $crate::config::Chance::new(0.1).unwrap(),
            return_chance: $crate::config::Chance = $crate::config::Chance::new(0.03).unwrap(),
            error_rate: $crate::config::Chance = $crate::config::Chance::NEVER,
            #[serde(with = "humantime_serde")]
            latency: std::time::Duration = std::time::Duration::ZERO,
            timeout_after_create_rate: $crate::config::Chance = $crate::config::Chance::NEVER,
            /// How long a withheld answer is held (the client has given up long before).
            #[serde(with = "humantime_serde")]
            withhold_for: std::time::Duration = std::time::Duration::from_secs(60),
            /// Applies to tokens issued from now on.
            #[serde(with = "humantime_serde")]
            token_ttl: std::time::Duration = std::time::Duration::from_secs(3600),
            /// Answer shapes: drawn (seeded) or pinned; see `carrier::sandbox::shapes`.
            shapes: $crate::config::ShapeMode = $crate::config::ShapeMode::Random,
            /// Setting it (even to the same value) restarts the sequence of drawn shapes.
            shape_seed: u64 = 1,
            shape_pins: $crate::config::ShapePins = $crate::config::ShapePins::new(),
            /// Chance that a cancellation awaits approval (`"02"`) instead of being done at once.
            cancel_pending: $crate::config::Chance = $crate::config::Chance::NEVER,
            /// `updateCase` polls answered `"02"` before the outcome.
            cancel_pending_polls: u32 = 2,
            /// Applies when a case is decided (after its polls).
            cancel_pending_outcome: $crate::config::PendingOutcome =
                $crate::config::PendingOutcome::Approve,
            catalogue_missing: Vec<String> = Vec::new(),
            catalogue_renamed: std::collections::BTreeMap<String, String> =
                std::collections::BTreeMap::new(),
            #[serde(with = "humantime_serde")]
            forget_finished_after: std::time::Duration = std::time::Duration::from_secs(3600),
            push_mode: $crate::config::PushMode = $crate::config::PushMode::Signature,
            push_date_format: $crate::config::PushDateFormat =
                $crate::config::PushDateFormat::Random,
            /// Chance that a push carries, after its own record, the other reports waiting to be
            /// sent.
            push_batch: $crate::config::Chance = $crate::config::Chance::new(0.1).unwrap(),
            push_duplicate_rate: $crate::config::Chance = $crate::config::Chance::NEVER,
            push_drop_rate: $crate::config::Chance = $crate::config::Chance::NEVER,
            #[serde(with = "humantime_serde")]
            push_delay: std::time::Duration = std::time::Duration::ZERO,
            push_reorder: bool = false,
        }
    };
}

/// Writes [`SandboxConfig`] and its defaults: the settings read only at start, then the faults.
macro_rules! sandbox_config {
    ($($(#[$attr:meta])* $name:ident: $ty:ty = $default:expr),* $(,)?) => {
        /// `[carrier.sandbox]`: see `config/default.toml` for each key.
        #[derive(Debug, Clone, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct SandboxConfig {
            pub listen: SocketAddr,
            pub username: String,
            pub password: Secret,
            pub customer_code: String,
            pub push_url: Option<url::Url>,
            pub push_signing_key: PathBuf,
            pub push_encryption_key: PathBuf,
            $($(#[$attr])* pub $name: $ty,)*
        }

        impl Default for SandboxConfig {
            fn default() -> Self {
                SandboxConfig {
                    listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
                    username: "sandbox".into(),
                    password: Secret::new("sandbox"),
                    customer_code: "SANDBOX".into(),
                    push_url: None,
                    push_signing_key: PathBuf::from(DEFAULT_SIGNING_KEY_PATH),
                    push_encryption_key: PathBuf::from(DEFAULT_GATEWAY_KEY_PATH),
                    $($name: $default,)*
                }
            }
        }
    };
}

crate::sandbox_faults!(sandbox_config);

/// One way the carrier's answers differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// `CreateOrder`: 1 the record at the root, 2 under `"data"`.
    CreateOrder,
    /// Error bodies: 1 `{message}`, 2 `{Message}`, 3 `{errorMessage}`,
    /// 4 `{status,timestamp,error,message,path}`.
    Error,
    /// `getOrder`: 1 `[{"results":[…]}]`, 2 `{"results":[…]}`.
    GetOrder,
    /// `GetStatusHistoryOrder`: 1 `{"data":{"statusHistory"}}`, 2 `{"statusHistory"}`,
    /// 3 `[{"itemCode","statusHistory"}]`.
    History,
    /// History entries' time: 1 `createdHour`, 2 `createHour`.
    HistoryHour,
    /// History entries' `statusCode`: 1 a number, 2 text.
    HistoryCode,
    /// `GetListOrder`: 1 `{"results":[…]}`, 2 `[{"results":[…]}]`.
    ListOrder,
    /// `orderCancel`: 1 `{"Type","Message","CaseId"}`, 2 the same in lower case, 3 a list of
    /// 1, 4 a list of 2.
    Cancel,
    /// `orderCorrection/updateCase` (always a list): 1 capitalised keys, 2 lower-case keys.
    UpdateCase,
    /// `ServicesCharge`: 1 a list, 2 `{"data":[…]}`.
    ServicesCharge,
    /// `ServicesCharge` add-on fee key: 1 `vasFee`, 2 `vasfee`.
    VasFee,
    /// `exportListReport`: 1 one PDF for the whole call, 2 one PDF per item.
    Waybills,
    /// `getNewCommuneAll`, the commune's province: 1 `provinceCode`, 2 `districtCode`.
    CommuneProvince,
}

impl Shape {
    pub const ALL: [Shape; 13] = [
        Shape::CreateOrder,
        Shape::Error,
        Shape::GetOrder,
        Shape::History,
        Shape::HistoryHour,
        Shape::HistoryCode,
        Shape::ListOrder,
        Shape::Cancel,
        Shape::UpdateCase,
        Shape::ServicesCharge,
        Shape::VasFee,
        Shape::Waybills,
        Shape::CommuneProvince,
    ];

    /// How many variants this shape has.
    pub fn variants(self) -> u8 {
        match self {
            Shape::Error | Shape::Cancel => 4,
            Shape::History => 3,
            _ => 2,
        }
    }
}

/// `shapes`: drawn at random (seeded), or every shape pinned to its n-th variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShapeMode {
    Random,
    First,
    Second,
    Third,
    Fourth,
}

impl ShapeMode {
    /// The variant every shape is pinned to, if any.
    pub fn pinned(self) -> Option<u8> {
        match self {
            ShapeMode::Random => None,
            ShapeMode::First => Some(1),
            ShapeMode::Second => Some(2),
            ShapeMode::Third => Some(3),
            ShapeMode::Fourth => Some(4),
        }
    }
}

/// A pin of one shape to one variant (1-based), checked against the shape's variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Variant(u8);

impl TryFrom<u8> for Variant {
    type Error = String;
    fn try_from(n: u8) -> Result<Self, String> {
        if (1..=4).contains(&n) {
            Ok(Variant(n))
        } else {
            Err(format!("{n} is not a shape variant (1 to 4)"))
        }
    }
}

impl Variant {
    /// 1-based.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl From<Variant> for u8 {
    fn from(v: Variant) -> u8 {
        v.0
    }
}

/// Pins of single shapes, e.g. `{ history = 3, error = 4 }`.
pub type ShapePins = BTreeMap<Shape, Variant>;

/// Checks that every pin names a variant its shape has.
pub fn check_pins(pins: &ShapePins) -> Result<(), String> {
    for (shape, v) in pins {
        if v.0 > shape.variants() {
            return Err(format!(
                "shape_pins.{}: {} has only {} variants",
                serde_json::to_value(shape)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                v.0,
                shape.variants()
            ));
        }
    }
    Ok(())
}
