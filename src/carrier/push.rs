//! The carrier's push (SPEC §6): `{"Data","SendDate","SignData"}`, where `SignData` is
//! base64(RSA PKCS#1 v1.5 SHA-256 over the UTF-8 bytes of `Data` followed by `SendDate`) and
//! `Data` is JSON text `{"ItemCode","SaleOrderCode","StatusCode","StatusName","StatusDate","Note"}`.
//!
//! The sandbox signs with [`PushSigner`]; the gateway's webhook checks with [`PushVerifier`].

use super::{StatusReport, vntime, wire::lenient};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The public half of the sandbox carrier's development key pair (`config/sandbox/`): what a
/// gateway configured for the sandbox trusts. Never trust it for a real carrier.
pub const SANDBOX_PUBLIC_KEY_PEM: &str =
    include_str!("../../config/sandbox/carrier-push-public.pem");

/// How far `SendDate` may be from now (SPEC §6).
pub const MAX_SEND_DATE_SKEW: Duration = Duration::from_secs(10 * 60);

/// The body of a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushEnvelope {
    #[serde(rename = "Data")]
    pub data: String,
    #[serde(rename = "SendDate")]
    pub send_date: String,
    #[serde(rename = "SignData")]
    pub sign_data: String,
}

/// What `Data` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushData {
    #[serde(rename = "ItemCode")]
    pub item_code: String,
    #[serde(rename = "SaleOrderCode", default, deserialize_with = "lenient::text")]
    pub sale_order_code: Option<String>,
    #[serde(rename = "StatusCode", deserialize_with = "lenient::required_int")]
    pub status_code: i32,
    #[serde(rename = "StatusName", default)]
    pub status_name: Option<String>,
    /// `dd/MM/yyyy HH:mm:ss`, Vietnam time.
    #[serde(rename = "StatusDate")]
    pub status_date: String,
    #[serde(rename = "Note", default)]
    pub note: Option<String>,
}

/// A verified push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReport {
    pub item_code: String,
    pub sale_order_code: Option<String>,
    pub report: StatusReport,
    pub note: Option<String>,
    pub sent_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The signature is missing, not base64, or does not match: answer 401, apply nothing.
    #[error("bad signature")]
    BadSignature,
    /// `SendDate` is unreadable or too far from now (replay or clock trouble): answer 401.
    #[error("SendDate {0:?} is not within the accepted window")]
    StaleSendDate(String),
    /// Correctly signed, but `Data` is not what SPEC §6 describes: answer 400.
    #[error("malformed Data: {0}")]
    Malformed(String),
}

#[derive(Debug, thiserror::Error)]
#[error("cannot read the push key: {0}")]
pub struct KeyError(String);

/// The bytes that are signed.
fn signed_bytes(data: &str, send_date: &str) -> Vec<u8> {
    [data.as_bytes(), send_date.as_bytes()].concat()
}

/// Signs pushes (the carrier's side).
#[derive(Clone)]
pub struct PushSigner(SigningKey<Sha256>);

impl std::fmt::Debug for PushSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PushSigner([private key])")
    }
}

impl PushSigner {
    /// From a PEM private key, PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let key = RsaPrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
            .map_err(|e| KeyError(e.to_string()))?;
        Ok(PushSigner(SigningKey::new(key)))
    }

    /// base64 of the signature of `data` + `send_date`.
    pub fn sign(&self, data: &str, send_date: &str) -> String {
        // Unblinded signing is deterministic and fine for the sandbox's published key; a real
        // carrier would sign with blinding (`RandomizedSigner`).
        BASE64.encode(self.0.sign(&signed_bytes(data, send_date)).to_bytes())
    }

    /// A complete envelope for `data`, sent now.
    pub fn envelope(&self, data: &PushData, now: DateTime<Utc>) -> PushEnvelope {
        let data = serde_json::to_string(data).expect("push data serializes");
        let send_date = vntime::rfc3339(now);
        let sign_data = self.sign(&data, &send_date);
        PushEnvelope {
            data,
            send_date,
            sign_data,
        }
    }
}

/// Checks pushes (the gateway's side).
#[derive(Clone)]
pub struct PushVerifier(VerifyingKey<Sha256>);

impl std::fmt::Debug for PushVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PushVerifier")
    }
}

impl PushVerifier {
    /// From a PEM public key, SPKI (`BEGIN PUBLIC KEY`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let key = RsaPublicKey::from_public_key_pem(pem)
            .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem))
            .map_err(|e| KeyError(e.to_string()))?;
        Ok(PushVerifier(VerifyingKey::new(key)))
    }

    /// The signature only.
    pub fn check_signature(&self, envelope: &PushEnvelope) -> Result<(), PushError> {
        let raw = BASE64
            .decode(envelope.sign_data.trim())
            .map_err(|_| PushError::BadSignature)?;
        let signature = Signature::try_from(raw.as_slice()).map_err(|_| PushError::BadSignature)?;
        self.0
            .verify(
                &signed_bytes(&envelope.data, &envelope.send_date),
                &signature,
            )
            .map_err(|_| PushError::BadSignature)
    }

    /// Signature, then freshness (`SendDate` within `max_skew` of `now`), then `Data`.
    pub fn verify(
        &self,
        envelope: &PushEnvelope,
        now: DateTime<Utc>,
        max_skew: Duration,
    ) -> Result<PushReport, PushError> {
        self.check_signature(envelope)?;
        let stale = || PushError::StaleSendDate(envelope.send_date.clone());
        let sent_at = DateTime::parse_from_rfc3339(envelope.send_date.trim())
            .map_err(|_| stale())?
            .with_timezone(&Utc);
        let skew = chrono::Duration::from_std(max_skew).unwrap_or(chrono::Duration::MAX);
        if (now - sent_at).abs() > skew {
            return Err(stale());
        }
        parse_data(&envelope.data, sent_at)
    }
}

/// Reads `Data` (already verified).
pub fn parse_data(data: &str, sent_at: DateTime<Utc>) -> Result<PushReport, PushError> {
    let d: PushData =
        serde_json::from_str(data).map_err(|e| PushError::Malformed(e.to_string()))?;
    if d.item_code.trim().is_empty() {
        return Err(PushError::Malformed("ItemCode is empty".into()));
    }
    let at = vntime::parse_date_time(&d.status_date).ok_or_else(|| {
        PushError::Malformed(format!(
            "StatusDate {:?} is not dd/MM/yyyy HH:mm:ss",
            d.status_date
        ))
    })?;
    Ok(PushReport {
        item_code: d.item_code,
        sale_order_code: d.sale_order_code,
        report: StatusReport {
            code: d.status_code,
            text: d.status_name.unwrap_or_default(),
            at,
        },
        note: d.note.filter(|n| !n.is_empty()),
        sent_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carrier::sandbox::SANDBOX_PRIVATE_KEY_PEM;
    use chrono::TimeZone;

    fn data() -> PushData {
        PushData {
            item_code: "EB123456785VN".into(),
            sale_order_code: Some("BCCI-0001".into()),
            status_code: 6,
            status_name: Some("Đã nhận hàng".into()),
            status_date: "27/11/2026 10:00:00".into(),
            note: Some(String::new()),
        }
    }

    fn keys() -> (PushSigner, PushVerifier) {
        (
            PushSigner::from_pem(SANDBOX_PRIVATE_KEY_PEM).unwrap(),
            PushVerifier::from_pem(SANDBOX_PUBLIC_KEY_PEM).unwrap(),
        )
    }

    #[test]
    fn signature_over_data_then_send_date_verifies_with_the_public_key() {
        let (signer, verifier) = keys();
        let now = Utc.with_ymd_and_hms(2026, 11, 27, 3, 0, 5).unwrap();
        let env = signer.envelope(&data(), now);
        assert_eq!(env.send_date, "2026-11-27T10:00:05+07:00");
        // Exactly the bytes of Data followed by the bytes of SendDate.
        let raw = BASE64.decode(&env.sign_data).unwrap();
        let sig = Signature::try_from(raw.as_slice()).unwrap();
        let vk = VerifyingKey::<Sha256>::new(
            RsaPublicKey::from_public_key_pem(SANDBOX_PUBLIC_KEY_PEM).unwrap(),
        );
        vk.verify(format!("{}{}", env.data, env.send_date).as_bytes(), &sig)
            .unwrap();

        let report = verifier.verify(&env, now, MAX_SEND_DATE_SKEW).unwrap();
        assert_eq!(report.item_code, "EB123456785VN");
        assert_eq!(report.report.code, 6);
        assert_eq!(
            report.report.at,
            Utc.with_ymd_and_hms(2026, 11, 27, 3, 0, 0).unwrap()
        );
        assert_eq!(report.note, None);
        let json: serde_json::Value = serde_json::from_str(&env.data).unwrap();
        assert_eq!(json["StatusCode"], 6);
        assert_eq!(json["StatusDate"], "27/11/2026 10:00:00");
    }

    #[test]
    fn tampering_is_refused() {
        let (signer, verifier) = keys();
        let now = Utc::now();
        let env = signer.envelope(&data(), now);
        let mut other = env.clone();
        other.data = other.data.replace("\"StatusCode\":6", "\"StatusCode\":14");
        assert_eq!(
            verifier.verify(&other, now, MAX_SEND_DATE_SKEW),
            Err(PushError::BadSignature)
        );
        let mut other = env.clone();
        other.send_date = vntime::rfc3339(now + chrono::Duration::seconds(1));
        assert_eq!(
            verifier.check_signature(&other),
            Err(PushError::BadSignature)
        );
        let mut other = env.clone();
        other.sign_data = "not base64!".into();
        assert_eq!(
            verifier.check_signature(&other),
            Err(PushError::BadSignature)
        );
        other.sign_data = String::new();
        assert_eq!(
            verifier.check_signature(&other),
            Err(PushError::BadSignature)
        );
    }

    #[test]
    fn old_or_future_send_dates_are_refused() {
        let (signer, verifier) = keys();
        let now = Utc::now();
        for off in [-11 * 60, 11 * 60] {
            let env = signer.envelope(&data(), now + chrono::Duration::seconds(off));
            assert!(
                matches!(
                    verifier.verify(&env, now, MAX_SEND_DATE_SKEW),
                    Err(PushError::StaleSendDate(_))
                ),
                "{off}"
            );
        }
        let env = signer.envelope(&data(), now - chrono::Duration::seconds(9 * 60));
        assert!(verifier.verify(&env, now, MAX_SEND_DATE_SKEW).is_ok());
    }

    #[test]
    fn signed_but_malformed_data() {
        let (signer, verifier) = keys();
        let now = Utc::now();
        let send_date = vntime::rfc3339(now);
        for data in [
            "not json",
            r#"{"ItemCode":"EB1VN","StatusCode":6,"StatusDate":"2026/11/27"}"#,
        ] {
            let env = PushEnvelope {
                data: data.into(),
                send_date: send_date.clone(),
                sign_data: signer.sign(data, &send_date),
            };
            assert!(
                matches!(
                    verifier.verify(&env, now, MAX_SEND_DATE_SKEW),
                    Err(PushError::Malformed(_))
                ),
                "{data}"
            );
        }
    }
}
