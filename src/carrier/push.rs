//! The carrier's push (SPEC §6, revised): MyVNPost's webhook envelope
//! `{"data":[record, …],"sendDate":"…","signature":"<base64>"}`, and how it is authenticated.
//!
//! The authenticated text is `"MYVNP" + sendDate + itemCode + status` of the FIRST record
//! ([`authenticated_text`]); nothing else in the push is covered. Two modes (configuration
//! `carrier.webhook_mode`):
//! - `signature`: `signature` = base64(RSA PKCS#1 v1.5 SHA-256 of the text) by VNPost's private
//!   key ([`PushSigner`]), checked with VNPost's public key ([`PushVerifier`]);
//! - `encryption`: `signature` = base64(RSA PKCS#1 v1.5 encryption of the text) with the
//!   gateway's public key ([`PushEncryptor`], as VNPost's Java sample does), checked by
//!   decrypting with the gateway's private key and comparing ([`PushDecryptor`]).
//!
//! The carrier side (the sandbox) builds envelopes with [`CarrierPushKey`]; the gateway side
//! checks them with [`PushKeys::verify`].

use super::{vntime, wire::lenient};
use crate::config::{Carrier, CarrierKind, WebhookMode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use rsa::pkcs8::EncodePublicKey;
use rsa::{Pkcs1v15Encrypt, RsaPublicKey};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// Signature mode: the public half of the sandbox carrier's development key pair
/// (`config/sandbox/carrier-push-*.pem`), what a gateway configured for the sandbox trusts.
/// Never trust it for a real carrier.
pub const SANDBOX_PUBLIC_KEY_PEM: &str =
    include_str!("../../config/sandbox/carrier-push-public.pem");

/// Encryption mode: the gateway's development key pair (`config/sandbox/gateway-webhook-*.pem`).
/// The sandbox carrier encrypts with the public half; a gateway on the sandbox decrypts with the
/// private half. Published on purpose: never use it with a real carrier.
pub const SANDBOX_GATEWAY_PUBLIC_KEY_PEM: &str =
    include_str!("../../config/sandbox/gateway-webhook-public.pem");
pub const SANDBOX_GATEWAY_PRIVATE_KEY_PEM: &str =
    include_str!("../../config/sandbox/gateway-webhook-private.pem");

/// How far `sendDate` may be from now (SPEC §6).
pub const MAX_SEND_DATE_SKEW: Duration = Duration::from_secs(10 * 60);

/// The prefix of the authenticated text.
pub const TEXT_PREFIX: &str = "MYVNP";

/// The body of a push. `data` stays raw JSON: only the first record's `itemCode` and `status`
/// are authenticated, and they are authenticated exactly as written (a status sent as text
/// `"6"` and one sent as the number `6` both read `6`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushEnvelope {
    #[serde(default)]
    pub data: Vec<Value>,
    #[serde(rename = "sendDate", default)]
    pub send_date: String,
    #[serde(default)]
    pub signature: String,
}

/// One record of `data`: an order's data as the carrier pushes it (camelCase; unknown fields
/// ignored; numbers may come as text).
///
/// The time of the change is read from, in this order: `statusDate`; `createdDate` (`dd/MM/yyyy`)
/// with `createdHour` (or `createHour`, `HH:mm:ss`), the form of the status history; and
/// `updatedDate`, the form of `getOrder` records. Each is `dd/MM/yyyy HH:mm:ss` Vietnam time or
/// ISO 8601 ([`vntime::parse_date_time`]). `createdDate` alone is not used: in an order record
/// it is when the order was created, not when it changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushRecord {
    #[serde(deserialize_with = "required_text")]
    pub item_code: String,
    #[serde(
        default,
        deserialize_with = "lenient::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub original_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub sale_order_code: Option<String>,
    #[serde(deserialize_with = "lenient::required_int")]
    pub status: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_name: Option<String>,
    /// VND.
    #[serde(
        default,
        deserialize_with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_fee: Option<i64>,
    /// VND.
    #[serde(
        default,
        deserialize_with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub cod_amount: Option<i64>,
    #[serde(
        default,
        deserialize_with = "lenient::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub sender_code: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status_date: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_date: Option<String>,
    #[serde(
        default,
        alias = "createHour",
        deserialize_with = "lenient::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_hour: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_date: Option<String>,
}

fn required_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    lenient::text(d)?.ok_or_else(|| serde::de::Error::custom("missing text"))
}

impl PushRecord {
    /// A record of `status` for `item_code`, nothing else set.
    pub fn new(item_code: impl Into<String>, status: i32) -> Self {
        PushRecord {
            item_code: item_code.into(),
            status,
            ..PushRecord::default()
        }
    }

    /// Reads one element of `data`.
    pub fn from_value(value: &Value) -> Result<Self, String> {
        serde_json::from_value(value.clone()).map_err(|e| e.to_string())
    }

    /// When the change happened, if the record says (see the type's documentation); `None` if
    /// no time is given or none is readable.
    pub fn changed_at(&self) -> Option<DateTime<Utc>> {
        let status_date = || {
            self.status_date
                .as_deref()
                .and_then(vntime::parse_date_time)
        };
        let created = || {
            vntime::parse_date_and_hour(
                self.created_date.as_deref()?,
                self.created_hour.as_deref()?,
            )
        };
        let updated = || {
            self.updated_date
                .as_deref()
                .and_then(vntime::parse_date_time)
        };
        status_date().or_else(created).or_else(updated)
    }

    /// The record as the ledger keeps it, its time read.
    pub fn pushed(&self) -> crate::domain::push::PushedRecord {
        crate::domain::push::PushedRecord {
            item_code: self.item_code.clone(),
            sale_order_code: self.sale_order_code.clone(),
            status: self.status,
            status_name: self.status_name.clone(),
            total_fee: self.total_fee,
            cod_amount: self.cod_amount,
            changed_at: self.changed_at(),
        }
    }
}

/// The text the push's `signature` authenticates.
pub fn authenticated_text(send_date: &str, item_code: &str, status: &str) -> String {
    format!("{TEXT_PREFIX}{send_date}{item_code}{status}")
}

/// A JSON string as is, a JSON number as written; anything else is not a text.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `itemCode` and `status` of the first record, as written: the signed parts.
pub fn signed_fields(data: &[Value]) -> Result<(String, String), PushError> {
    let first = match data.first() {
        None => {
            return Err(PushError::malformed(
                "data",
                "must hold at least one record",
            ));
        }
        Some(Value::Object(o)) => o,
        Some(_) => return Err(PushError::malformed("data[0]", "must be an object")),
    };
    let item_code = first
        .get("itemCode")
        .and_then(scalar_text)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| PushError::malformed("data[0].itemCode", "is required (text)"))?;
    let status = first
        .get("status")
        .and_then(scalar_text)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| PushError::malformed("data[0].status", "is required (number or text)"))?;
    Ok((item_code, status))
}

/// How `sendDate` is written. The format is not documented (SPEC §6): the gateway reads both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SendDateFormat {
    /// RFC 3339 with the `+07:00` offset, whole seconds.
    #[default]
    Rfc3339,
    /// `dd/MM/yyyy HH:mm:ss`, Vietnam time (UTC+7).
    Vietnam,
}

impl SendDateFormat {
    pub fn format(self, at: DateTime<Utc>) -> String {
        match self {
            SendDateFormat::Rfc3339 => vntime::rfc3339(at),
            SendDateFormat::Vietnam => vntime::format_date_time(at),
        }
    }
}

/// Reads `sendDate`: RFC 3339, or `dd/MM/yyyy HH:mm:ss` Vietnam time.
pub fn parse_send_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.with_timezone(&Utc));
    }
    chrono::NaiveDateTime::parse_from_str(text, vntime::DATE_TIME_FORMAT)
        .ok()?
        .and_local_timezone(vntime::offset())
        .single()
        .map(|dt| dt.with_timezone(&Utc))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// Not a push: answer 400 naming `field` (a JSON path such as `data[0].status`).
    #[error("malformed push: `{field}` {message}")]
    Malformed { field: String, message: String },
    /// No `signature`: answer 401.
    #[error("the push has no signature")]
    Unsigned,
    /// The signature is not base64 or does not authenticate the text: answer 401.
    #[error("bad signature")]
    BadSignature,
    /// `sendDate` is missing, unreadable or too far from now (a replay or clock trouble): 401.
    #[error("sendDate {0:?} is not a time within the accepted window")]
    StaleSendDate(String),
}

impl PushError {
    pub fn malformed(field: impl Into<String>, message: impl Into<String>) -> Self {
        PushError::Malformed {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Whether the answer is 401 (else 400).
    pub fn is_unauthentic(&self) -> bool {
        !matches!(self, PushError::Malformed { .. })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot read the push key: {0}")]
pub struct KeyError(String);

fn public_key(pem: &str) -> Result<RsaPublicKey, KeyError> {
    crate::domain::pem_keys::public_key(pem).map_err(KeyError)
}

/// Builds an envelope whose `signature` is `seal(text)`.
fn envelope_with(
    records: &[PushRecord],
    send_date: String,
    seal: impl FnOnce(&str) -> String,
) -> PushEnvelope {
    let data: Vec<Value> = records
        .iter()
        .map(|r| serde_json::to_value(r).expect("a push record serializes"))
        .collect();
    // The text is taken from the JSON as sent, exactly as the gateway will read it.
    let signature = match signed_fields(&data) {
        Ok((item_code, status)) => seal(&authenticated_text(&send_date, &item_code, &status)),
        Err(_) => String::new(),
    };
    PushEnvelope {
        data,
        send_date,
        signature,
    }
}

/// `Debug` that names the key's kind, never the key.
macro_rules! opaque_debug {
    ($($t:ty => $text:literal),* $(,)?) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($text)
            }
        }
    )*};
}

opaque_debug!(
    PushSigner => "PushSigner([private key])",
    PushEncryptor => "PushEncryptor",
    PushVerifier => "PushVerifier",
    PushDecryptor => "PushDecryptor([private key])",
);

/// Signs pushes (the carrier's side, signature mode), RSA PKCS#1 v1.5 with SHA-256.
///
/// Through OpenSSL rather than the `rsa` crate: a private-key operation costs about a sixth of
/// the CPU there, and `carrier-sim` signs every push on the same cores as the gateway it
/// tests (issue 12). Also constant time, with blinding.
#[derive(Clone)]
pub struct PushSigner(openssl::pkey::PKey<openssl::pkey::Private>);

impl PushSigner {
    /// From a PEM private key, PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let rsa = crate::domain::pem_keys::decryption_key(pem).map_err(KeyError)?;
        let key = openssl::pkey::PKey::from_rsa(rsa).map_err(|e| KeyError(e.to_string()))?;
        Ok(PushSigner(key))
    }

    /// base64 of the signature of `text`.
    pub fn sign(&self, text: &str) -> String {
        let signature = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &self.0)
            .and_then(|mut signer| signer.sign_oneshot_to_vec(text.as_bytes()))
            .expect("an RSA key signs any text");
        BASE64.encode(signature)
    }

    /// An envelope of `records` sent at `at`, `sendDate` written in `format`.
    pub fn envelope(
        &self,
        records: &[PushRecord],
        at: DateTime<Utc>,
        format: SendDateFormat,
    ) -> PushEnvelope {
        envelope_with(records, format.format(at), |t| self.sign(t))
    }
}

/// Encrypts the authenticated text with the gateway's public key (the carrier's side,
/// encryption mode).
#[derive(Clone)]
pub struct PushEncryptor(RsaPublicKey);

impl PushEncryptor {
    /// From a PEM public key, SPKI (`BEGIN PUBLIC KEY`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        Ok(PushEncryptor(public_key(pem)?))
    }

    /// base64 of the RSA PKCS#1 v1.5 encryption of `text` (randomised: differs every time).
    pub fn encrypt(&self, text: &str) -> String {
        let sealed = self
            .0
            .encrypt(&mut rsa::rand_core::OsRng, Pkcs1v15Encrypt, text.as_bytes())
            .expect("the authenticated text fits in one RSA block");
        BASE64.encode(sealed)
    }

    /// An envelope of `records` sent at `at`, `sendDate` written in `format`.
    pub fn envelope(
        &self,
        records: &[PushRecord],
        at: DateTime<Utc>,
        format: SendDateFormat,
    ) -> PushEnvelope {
        envelope_with(records, format.format(at), |t| self.encrypt(t))
    }
}

/// The carrier's key of either mode.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // one per sandbox; boxing would buy nothing
pub enum CarrierPushKey {
    Signature(PushSigner),
    Encryption(PushEncryptor),
}

impl CarrierPushKey {
    pub fn envelope(
        &self,
        records: &[PushRecord],
        at: DateTime<Utc>,
        format: SendDateFormat,
    ) -> PushEnvelope {
        match self {
            CarrierPushKey::Signature(k) => k.envelope(records, at, format),
            CarrierPushKey::Encryption(k) => k.envelope(records, at, format),
        }
    }
}

/// Checks signatures with VNPost's public key (the gateway's side, signature mode).
///
/// Through OpenSSL, like the signer: the gateway checks one signature per push, and in the
/// loop benchmark's profile the `rsa` crate's modular exponentiation for these checks took
/// about 2 % of the machine (2 December, BENCHMARKS.md).
#[derive(Clone)]
pub struct PushVerifier(openssl::pkey::PKey<openssl::pkey::Public>);

impl PushVerifier {
    /// From a PEM public key, SPKI (`BEGIN PUBLIC KEY`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        // Read as before (either form), then handed to OpenSSL as SPKI.
        let der = public_key(pem)?
            .to_public_key_der()
            .map_err(|e| KeyError(e.to_string()))?;
        let key = openssl::pkey::PKey::public_key_from_der(der.as_bytes())
            .map_err(|e| KeyError(e.to_string()))?;
        Ok(PushVerifier(key))
    }

    /// Whether `signature` (raw bytes) signs `text` (PKCS#1 v1.5, SHA-256).
    pub fn check(&self, text: &str, signature: &[u8]) -> bool {
        openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &self.0)
            .and_then(|mut v| v.verify_oneshot(signature, text.as_bytes()))
            .unwrap_or(false)
    }
}

/// Decrypts with the gateway's private key and compares (the gateway's side, encryption mode).
///
/// Through OpenSSL, not the `rsa` crate: the webhook is public, so anyone may send it texts to
/// decrypt and time the answers, and the `rsa` crate's private-key operations are not constant
/// time (RUSTSEC-2023-0071, "Marvin"). OpenSSL's PKCS#1 v1.5 decryption is (CVE-2022-4304,
/// fixed in 3.0.8; 3.2 adds implicit rejection).
#[derive(Clone)]
pub struct PushDecryptor(openssl::rsa::Rsa<openssl::pkey::Private>);

impl PushDecryptor {
    /// From a PEM private key, PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        Ok(PushDecryptor(
            crate::domain::pem_keys::decryption_key(pem).map_err(KeyError)?,
        ))
    }

    /// Whether `sealed` (raw bytes) decrypts to exactly `text`. A padding error and a wrong
    /// text are one answer, and the comparison is in constant time.
    pub fn check(&self, text: &str, sealed: &[u8]) -> bool {
        let mut plain = vec![0; self.0.size() as usize];
        match self
            .0
            .private_decrypt(sealed, &mut plain, openssl::rsa::Padding::PKCS1)
        {
            Ok(n) => bool::from(plain[..n].ct_eq(text.as_bytes())),
            Err(_) => false,
        }
    }
}

/// The keys the gateway trusts, in the configured mode; two during a rotation (a push that
/// checks with either is authentic).
#[derive(Debug, Clone)]
pub enum PushKeys {
    Signature(Vec<PushVerifier>),
    Encryption(Vec<PushDecryptor>),
}

impl PushKeys {
    /// The keys of `carrier.webhook_mode` (SPEC §6): the configured key and, during a rotation,
    /// the next; with `kind = "sandbox"` and no key of that mode, the compiled-in development
    /// key of the sandbox. The configuration checked the PEM when it was read; built once at
    /// start-up (`AppState`).
    pub fn from_config(c: &Carrier) -> Result<PushKeys, KeyError> {
        let configured = c.webhook_keys();
        let sandbox = configured.is_empty() && c.kind == CarrierKind::Sandbox;
        // With no key of the mode, a sandbox trusts the compiled-in development key.
        fn keys<K>(
            configured: Vec<&str>,
            development: Option<&str>,
            from_pem: fn(&str) -> Result<K, KeyError>,
        ) -> Result<Vec<K>, KeyError> {
            match development {
                Some(pem) => Ok(vec![from_pem(pem)?]),
                None => configured.into_iter().map(from_pem).collect(),
            }
        }
        let development = |pem| sandbox.then_some(pem);
        Ok(match c.webhook_mode {
            WebhookMode::Signature => PushKeys::Signature(keys(
                configured,
                development(SANDBOX_PUBLIC_KEY_PEM),
                PushVerifier::from_pem,
            )?),
            WebhookMode::Encryption => PushKeys::Encryption(keys(
                configured,
                development(SANDBOX_GATEWAY_PRIVATE_KEY_PEM),
                PushDecryptor::from_pem,
            )?),
        })
    }
}

/// An authenticated push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPush {
    /// `sendDate`, read.
    pub sent_at: DateTime<Utc>,
    /// The first record: its `itemCode` and `status` are authentic, its other fields are hints.
    pub first: PushRecord,
    /// The other records, hints only; one that cannot be read is kept as the reason.
    pub rest: Vec<Result<PushRecord, String>>,
}

impl PushKeys {
    /// The shape of the signed part (else 400), then a signature present, `sendDate` within
    /// `max_skew` of `now`, and the signature checking with one of the keys (else 401), then the
    /// first record readable (else 400).
    pub fn verify(
        &self,
        envelope: &PushEnvelope,
        now: DateTime<Utc>,
        max_skew: Duration,
    ) -> Result<VerifiedPush, PushError> {
        let (item_code, status) = signed_fields(&envelope.data)?;
        let signature = envelope.signature.trim();
        if signature.is_empty() {
            return Err(PushError::Unsigned);
        }
        // The cheap checks first: a replay costs no RSA operation.
        let stale = || PushError::StaleSendDate(envelope.send_date.clone());
        let sent_at = parse_send_date(&envelope.send_date).ok_or_else(stale)?;
        let skew = chrono::Duration::from_std(max_skew).unwrap_or(chrono::Duration::MAX);
        if (now - sent_at).abs() > skew {
            return Err(stale());
        }
        let raw = BASE64
            .decode(signature)
            .map_err(|_| PushError::BadSignature)?;
        let text = authenticated_text(&envelope.send_date, &item_code, &status);
        let authentic = match self {
            PushKeys::Signature(keys) => keys.iter().any(|k| k.check(&text, &raw)),
            PushKeys::Encryption(keys) => keys.iter().any(|k| k.check(&text, &raw)),
        };
        if !authentic {
            return Err(PushError::BadSignature);
        }
        let first = PushRecord::from_value(&envelope.data[0])
            .map_err(|why| PushError::malformed("data[0]", why))?;
        let rest = envelope.data[1..]
            .iter()
            .map(PushRecord::from_value)
            .collect();
        Ok(VerifiedPush {
            sent_at,
            first,
            rest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carrier::sandbox::SANDBOX_PRIVATE_KEY_PEM;
    use chrono::TimeZone;
    use rsa::RsaPrivateKey;
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
    // The independent checks use the `rsa` crate; the gateway verifies with OpenSSL.
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::sha2::Sha256;
    use rsa::signature::Verifier;
    use serde_json::json;

    fn private_key(pem: &str) -> RsaPrivateKey {
        RsaPrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
            .unwrap()
    }

    fn record() -> PushRecord {
        PushRecord {
            sale_order_code: Some("BCCI-0001".into()),
            status_name: Some("Đã nhận hàng".into()),
            status_date: Some("27/11/2026 10:00:00".into()),
            total_fee: Some(16500),
            ..PushRecord::new("EB123456785VN", 6)
        }
    }

    fn signer() -> PushSigner {
        PushSigner::from_pem(SANDBOX_PRIVATE_KEY_PEM).unwrap()
    }

    fn encryptor() -> PushEncryptor {
        PushEncryptor::from_pem(SANDBOX_GATEWAY_PUBLIC_KEY_PEM).unwrap()
    }

    fn signature_keys() -> PushKeys {
        PushKeys::Signature(vec![
            PushVerifier::from_pem(SANDBOX_PUBLIC_KEY_PEM).unwrap(),
        ])
    }

    fn encryption_keys() -> PushKeys {
        PushKeys::Encryption(vec![
            PushDecryptor::from_pem(SANDBOX_GATEWAY_PRIVATE_KEY_PEM).unwrap(),
        ])
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 3, 0, 5).unwrap()
    }

    #[test]
    fn the_text_is_prefix_send_date_item_code_status() {
        assert_eq!(
            authenticated_text("2026-11-27T10:00:05+07:00", "EB1VN", "6"),
            "MYVNP2026-11-27T10:00:05+07:00EB1VN6"
        );
    }

    #[test]
    fn signature_mode_signs_exactly_the_text() {
        let env = signer().envelope(&[record()], now(), SendDateFormat::Rfc3339);
        assert_eq!(env.send_date, "2026-11-27T10:00:05+07:00");
        let json = serde_json::to_value(&env).unwrap();
        assert_eq!(json["sendDate"], "2026-11-27T10:00:05+07:00");
        assert_eq!(json["data"][0]["itemCode"], "EB123456785VN");
        assert_eq!(json["data"][0]["status"], 6);
        assert_eq!(json["data"][0]["totalFee"], 16500);
        assert!(json["data"][0].get("codAmount").is_none());
        // An independent check: RSA-SHA256 over the UTF-8 bytes of the text.
        let raw = BASE64.decode(&env.signature).unwrap();
        let vk = VerifyingKey::<Sha256>::new(
            RsaPublicKey::from_public_key_pem(SANDBOX_PUBLIC_KEY_PEM).unwrap(),
        );
        vk.verify(
            b"MYVNP2026-11-27T10:00:05+07:00EB123456785VN6",
            &Signature::try_from(raw.as_slice()).unwrap(),
        )
        .unwrap();

        let v = signature_keys()
            .verify(&env, now(), MAX_SEND_DATE_SKEW)
            .unwrap();
        assert_eq!(v.first, record());
        assert_eq!(v.sent_at, now());
        assert!(v.rest.is_empty());
    }

    #[test]
    fn the_verifier_reads_either_public_key_form_and_refuses_what_was_not_signed() {
        use rsa::pkcs1::EncodeRsaPublicKey;
        let env = signer().envelope(&[record()], now(), SendDateFormat::Rfc3339);
        let raw = BASE64.decode(&env.signature).unwrap();
        let text = "MYVNP2026-11-27T10:00:05+07:00EB123456785VN6";
        let pkcs1 = RsaPublicKey::from_public_key_pem(SANDBOX_PUBLIC_KEY_PEM)
            .unwrap()
            .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
            .unwrap();
        assert!(pkcs1.starts_with("-----BEGIN RSA PUBLIC KEY-----"));
        for pem in [SANDBOX_PUBLIC_KEY_PEM, pkcs1.as_str()] {
            let v = PushVerifier::from_pem(pem).unwrap();
            assert!(v.check(text, &raw));
            assert!(!v.check("MYVNP2026-11-27T10:00:05+07:00EB123456785VN7", &raw));
            let mut flipped = raw.clone();
            flipped[0] ^= 1;
            assert!(!v.check(text, &flipped));
            assert!(!v.check(text, &raw[..10]));
            assert!(!v.check(text, &[]));
        }
        // Another key's signature of the same text.
        let other = PushVerifier::from_pem(SANDBOX_GATEWAY_PUBLIC_KEY_PEM).unwrap();
        assert!(!other.check(text, &raw));
        assert!(PushVerifier::from_pem("not a key").is_err());
    }

    #[test]
    fn encryption_mode_decrypts_to_the_text() {
        let env = encryptor().envelope(&[record()], now(), SendDateFormat::Vietnam);
        assert_eq!(env.send_date, "27/11/2026 10:00:05");
        let raw = BASE64.decode(&env.signature).unwrap();
        let key = private_key(SANDBOX_GATEWAY_PRIVATE_KEY_PEM);
        assert_eq!(
            key.decrypt(Pkcs1v15Encrypt, &raw).unwrap(),
            b"MYVNP27/11/2026 10:00:05EB123456785VN6"
        );
        // Randomised padding: two encryptions of one text differ, both check.
        let again = encryptor().envelope(&[record()], now(), SendDateFormat::Vietnam);
        assert_ne!(again.signature, env.signature);
        for e in [&env, &again] {
            let v = encryption_keys()
                .verify(e, now(), MAX_SEND_DATE_SKEW)
                .unwrap();
            assert_eq!(v.sent_at, now());
            assert_eq!(v.first.item_code, "EB123456785VN");
        }
        // The modes do not mix.
        assert_eq!(
            signature_keys().verify(&env, now(), MAX_SEND_DATE_SKEW),
            Err(PushError::BadSignature)
        );
        let signed = signer().envelope(&[record()], now(), SendDateFormat::Vietnam);
        assert_eq!(
            encryption_keys().verify(&signed, now(), MAX_SEND_DATE_SKEW),
            Err(PushError::BadSignature)
        );
    }

    #[test]
    fn a_second_key_is_accepted_during_a_rotation() {
        let env = encryptor().envelope(&[record()], now(), SendDateFormat::Rfc3339);
        let other = openssl::rsa::Rsa::generate(1024).unwrap();
        let keys = PushKeys::Encryption(vec![
            PushDecryptor(other.clone()),
            PushDecryptor::from_pem(SANDBOX_GATEWAY_PRIVATE_KEY_PEM).unwrap(),
        ]);
        assert!(keys.verify(&env, now(), MAX_SEND_DATE_SKEW).is_ok());
        let only_other = PushKeys::Encryption(vec![PushDecryptor(other)]);
        assert_eq!(
            only_other.verify(&env, now(), MAX_SEND_DATE_SKEW),
            Err(PushError::BadSignature)
        );
    }

    #[test]
    fn the_status_is_authenticated_as_written() {
        // A carrier writing the status as text: the same text, so the same signature.
        let mut env = signer().envelope(&[record()], now(), SendDateFormat::Rfc3339);
        env.data[0]["status"] = json!("6");
        let v = signature_keys()
            .verify(&env, now(), MAX_SEND_DATE_SKEW)
            .unwrap();
        assert_eq!(v.first.status, 6);
        // Another status, item code or send date is not authentic.
        for tamper in [
            |e: &mut PushEnvelope| e.data[0]["status"] = json!(14),
            |e: &mut PushEnvelope| e.data[0]["itemCode"] = json!("EB999999999VN"),
            |e: &mut PushEnvelope| e.send_date = "2026-11-27T10:00:06+07:00".into(),
            |e: &mut PushEnvelope| e.signature = "not base64!".into(),
        ] {
            for keys in [signature_keys(), encryption_keys()] {
                let mut e = match &keys {
                    PushKeys::Signature(_) => {
                        signer().envelope(&[record()], now(), SendDateFormat::Rfc3339)
                    }
                    PushKeys::Encryption(_) => {
                        encryptor().envelope(&[record()], now(), SendDateFormat::Rfc3339)
                    }
                };
                tamper(&mut e);
                assert_eq!(
                    keys.verify(&e, now(), MAX_SEND_DATE_SKEW),
                    Err(PushError::BadSignature)
                );
            }
        }
        // Unsigned fields are not covered: changing them keeps the push authentic.
        let mut env = signer().envelope(&[record()], now(), SendDateFormat::Rfc3339);
        env.data[0]["totalFee"] = json!(1);
        env.data.push(json!({"itemCode": "EB2VN", "status": 14}));
        let v = signature_keys()
            .verify(&env, now(), MAX_SEND_DATE_SKEW)
            .unwrap();
        assert_eq!(v.first.total_fee, Some(1));
        assert_eq!(v.rest, vec![Ok(PushRecord::new("EB2VN", 14))]);
    }

    #[test]
    fn stale_future_unreadable_or_missing_send_dates_are_refused() {
        for keys in [signature_keys(), encryption_keys()] {
            for format in [SendDateFormat::Rfc3339, SendDateFormat::Vietnam] {
                for off in [-11 * 60, 11 * 60] {
                    let at = now() + chrono::Duration::seconds(off);
                    let env = match &keys {
                        PushKeys::Signature(_) => signer().envelope(&[record()], at, format),
                        PushKeys::Encryption(_) => encryptor().envelope(&[record()], at, format),
                    };
                    assert!(
                        matches!(
                            keys.verify(&env, now(), MAX_SEND_DATE_SKEW),
                            Err(PushError::StaleSendDate(_))
                        ),
                        "{off} {format:?}"
                    );
                }
                let at = now() - chrono::Duration::seconds(9 * 60);
                let env = signer().envelope(&[record()], at, format);
                assert!(
                    signature_keys()
                        .verify(&env, now(), MAX_SEND_DATE_SKEW)
                        .is_ok()
                );
            }
        }
        for send_date in ["", "2026/11/27 10:00:05", "yesterday"] {
            let env = envelope_with(&[record()], send_date.into(), |t| signer().sign(t));
            assert!(matches!(
                signature_keys().verify(&env, now(), MAX_SEND_DATE_SKEW),
                Err(PushError::StaleSendDate(_))
            ));
        }
    }

    #[test]
    fn send_date_formats() {
        let at = Utc.with_ymd_and_hms(2026, 11, 26, 20, 5, 9).unwrap();
        assert_eq!(
            SendDateFormat::Rfc3339.format(at),
            "2026-11-27T03:05:09+07:00"
        );
        assert_eq!(SendDateFormat::Vietnam.format(at), "27/11/2026 03:05:09");
        for f in [SendDateFormat::Rfc3339, SendDateFormat::Vietnam] {
            assert_eq!(parse_send_date(&f.format(at)), Some(at));
        }
        assert_eq!(parse_send_date("2026-11-26T20:05:09Z"), Some(at));
        assert_eq!(parse_send_date("11/27/2026 03:05:09"), None);
    }

    #[test]
    fn malformed_and_unsigned() {
        let keys = signature_keys();
        let check = |data: Value, signature: &str| {
            let env = PushEnvelope {
                data: serde_json::from_value(data).unwrap(),
                send_date: SendDateFormat::Rfc3339.format(now()),
                signature: signature.into(),
            };
            keys.verify(&env, now(), MAX_SEND_DATE_SKEW)
        };
        let field = |r: Result<VerifiedPush, PushError>| match r {
            Err(PushError::Malformed { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(check(json!([]), "x")), "data");
        assert_eq!(field(check(json!(["EB1VN"]), "x")), "data[0]");
        assert_eq!(
            field(check(json!([{"status": 6}]), "x")),
            "data[0].itemCode"
        );
        assert_eq!(
            field(check(json!([{"itemCode": "EB1VN"}]), "x")),
            "data[0].status"
        );
        assert_eq!(
            field(check(json!([{"itemCode": "EB1VN", "status": null}]), "x")),
            "data[0].status"
        );
        assert_eq!(
            check(json!([{"itemCode": "EB1VN", "status": 6}]), " "),
            Err(PushError::Unsigned)
        );
        // Authentic, but a status that is no number: malformed.
        let mut r = serde_json::to_value(PushRecord::new("EB1VN", 6)).unwrap();
        r["status"] = json!("six");
        let send_date = SendDateFormat::Rfc3339.format(now());
        let env = PushEnvelope {
            signature: signer().sign(&authenticated_text(&send_date, "EB1VN", "six")),
            data: vec![r],
            send_date,
        };
        assert_eq!(
            field(keys.verify(&env, now(), MAX_SEND_DATE_SKEW)),
            "data[0]"
        );
    }

    #[test]
    fn records_are_read_leniently() {
        let r = PushRecord::from_value(&json!({
            "itemCode": "EB1VN", "originalId": 998877, "saleOrderCode": "BCCI-1",
            "status": "14", "statusName": "Phát thành công", "totalFee": "16500",
            "codAmount": 250000.0, "senderCode": "C001", "somethingNew": {"a": 1}
        }))
        .unwrap();
        assert_eq!(r.original_id.as_deref(), Some("998877"));
        assert_eq!(r.status, 14);
        assert_eq!(r.total_fee, Some(16500));
        assert_eq!(r.cod_amount, Some(250000));
        assert_eq!(r.sender_code.as_deref(), Some("C001"));
        assert_eq!(r.changed_at(), None);
        assert!(PushRecord::from_value(&json!({"itemCode": "EB1VN"})).is_err());
        assert!(PushRecord::from_value(&json!({"status": 6})).is_err());
    }

    #[test]
    fn the_time_of_the_change() {
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 3, 0, 0).unwrap();
        let read = |v: Value| PushRecord::from_value(&v).unwrap().changed_at();
        let base = json!({"itemCode": "EB1VN", "status": 6});
        let with = |extra: Value| {
            let mut v = base.clone();
            v.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            v
        };
        assert_eq!(
            read(with(json!({"statusDate": "27/11/2026 10:00:00"}))),
            Some(at)
        );
        assert_eq!(
            read(with(
                json!({"createdDate": "27/11/2026", "createHour": "10:00:00"})
            )),
            Some(at)
        );
        assert_eq!(
            read(with(json!({"updatedDate": "2026-11-27T10:00:00+07:00"}))),
            Some(at)
        );
        // statusDate wins; createdDate alone is when the order was made, not a change.
        assert_eq!(
            read(with(json!({
                "statusDate": "27/11/2026 10:00:00",
                "updatedDate": "28/11/2026 10:00:00"
            }))),
            Some(at)
        );
        assert_eq!(
            read(with(json!({"createdDate": "27/11/2026 10:00:00"}))),
            None
        );
        assert_eq!(read(with(json!({"statusDate": "soon"}))), None);
    }

    #[test]
    fn the_development_keys_parse_with_their_preamble() {
        PushDecryptor::from_pem(SANDBOX_GATEWAY_PRIVATE_KEY_PEM).unwrap();
        PushEncryptor::from_pem(SANDBOX_GATEWAY_PUBLIC_KEY_PEM).unwrap();
        PushVerifier::from_pem(SANDBOX_PUBLIC_KEY_PEM).unwrap();
    }
}
