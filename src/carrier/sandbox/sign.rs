//! The carrier's side of the push authentication (SPEC §6): the text
//! `"MYVNP" + sendDate + itemCode + status` of the first record, either signed (RSA PKCS#1
//! v1.5, SHA-256, with the sandbox's private key: VNPost's documentation) or encrypted (RSA
//! PKCS#1 v1.5 with the gateway's public key: VNPost's Java sample), base64 either way.
//!
//! The sandbox's own implementation, independent of the gateway's verifier in
//! `carrier::push`, so that a test of one against the other checks both.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::{Pkcs1v15Encrypt, RsaPrivateKey, RsaPublicKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a push is authenticated (`push_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushMode {
    #[default]
    Signature,
    Encryption,
}

/// The authenticated text of a push.
pub fn authenticated_text(send_date: &str, first: &Value) -> String {
    let item_code = first.get("itemCode").and_then(Value::as_str).unwrap_or("");
    let status = match first.get("status") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    format!("MYVNP{send_date}{item_code}{status}")
}

/// The keys the sandbox authenticates pushes with.
#[derive(Clone)]
pub struct PushKeys {
    signer: SigningKey<Sha256>,
    /// The gateway's public key (encryption mode); `None` when none is configured.
    gateway: Option<RsaPublicKey>,
}

impl std::fmt::Debug for PushKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PushKeys([private key], ")?;
        f.write_str(if self.gateway.is_some() {
            "gateway key)"
        } else {
            "no gateway key)"
        })
    }
}

impl PushKeys {
    /// From the PEM private key that signs (PKCS#8 or PKCS#1) and, for encryption mode, the
    /// gateway's PEM public key (SPKI or PKCS#1).
    pub fn from_pem(private_pem: &str, gateway_public_pem: Option<&str>) -> Result<Self, String> {
        let key = RsaPrivateKey::from_pkcs8_pem(private_pem)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(private_pem))
            .map_err(|e| format!("the signing key: {e}"))?;
        let gateway = gateway_public_pem
            .map(|pem| {
                RsaPublicKey::from_public_key_pem(pem)
                    .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem))
                    .map_err(|e| format!("the gateway's public key: {e}"))
            })
            .transpose()?;
        Ok(PushKeys {
            signer: SigningKey::new(key),
            gateway,
        })
    }

    pub fn can_encrypt(&self) -> bool {
        self.gateway.is_some()
    }

    /// `signature` for `records` sent at `send_date`.
    pub fn authenticate(
        &self,
        mode: PushMode,
        send_date: &str,
        records: &[Value],
    ) -> Result<String, String> {
        let first = records
            .first()
            .ok_or("a push carries at least one record")?;
        let text = authenticated_text(send_date, first);
        match mode {
            // Unblinded signing is deterministic and fine for the sandbox's published key.
            PushMode::Signature => Ok(BASE64.encode(self.signer.sign(text.as_bytes()).to_bytes())),
            PushMode::Encryption => {
                let key = self
                    .gateway
                    .as_ref()
                    .ok_or("encryption mode needs the gateway's public key")?;
                let sealed = key
                    .encrypt(&mut rand_core_06(), Pkcs1v15Encrypt, text.as_bytes())
                    .map_err(|e| format!("encryption failed: {e}"))?;
                Ok(BASE64.encode(sealed))
            }
        }
    }
}

/// The random source the rsa crate (rand_core 0.6) takes.
fn rand_core_06() -> rsa::rand_core::OsRng {
    rsa::rand_core::OsRng
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier;
    use serde_json::json;

    const PRIVATE: &str = crate::carrier::sandbox::SANDBOX_PRIVATE_KEY_PEM;
    const PUBLIC: &str = include_str!("../../../config/sandbox/carrier-push-public.pem");

    #[test]
    fn the_text_covers_the_first_record_only() {
        let a = json!({"itemCode": "EB1VN", "status": 6});
        assert_eq!(
            authenticated_text("01/12/2026 10:00:00", &a),
            "MYVNP01/12/2026 10:00:00EB1VN6"
        );
        let b = json!({"itemCode": "EB1VN", "status": "14"});
        assert_eq!(authenticated_text("x", &b), "MYVNPxEB1VN14");
    }

    #[test]
    fn a_signature_checks_with_the_public_half() {
        let keys = PushKeys::from_pem(PRIVATE, None).unwrap();
        let records = [
            json!({"itemCode": "EB1VN", "status": 6}),
            json!({"itemCode": "EB2VN", "status": 9}),
        ];
        let sig = keys
            .authenticate(PushMode::Signature, "2026-12-01T10:00:00+07:00", &records)
            .unwrap();
        let public = RsaPublicKey::from_public_key_pem(PUBLIC).unwrap();
        let verifier = VerifyingKey::<Sha256>::new(public);
        let raw = Signature::try_from(BASE64.decode(sig).unwrap().as_slice()).unwrap();
        verifier
            .verify(b"MYVNP2026-12-01T10:00:00+07:00EB1VN6", &raw)
            .unwrap();
        assert!(
            verifier
                .verify(b"MYVNP2026-12-01T10:00:00+07:00EB2VN9", &raw)
                .is_err()
        );
        assert!(
            keys.authenticate(PushMode::Encryption, "x", &records)
                .is_err()
        );
        assert!(keys.authenticate(PushMode::Signature, "x", &[]).is_err());
    }

    #[test]
    fn an_encryption_opens_with_the_private_half() {
        // Any pair shows it: the sandbox's own (the gateway's pair is another one).
        let keys = PushKeys::from_pem(PRIVATE, Some(PUBLIC)).unwrap();
        let records = [json!({"itemCode": "EB1VN", "status": 6})];
        let sealed = keys
            .authenticate(PushMode::Encryption, "01/12/2026 10:00:00", &records)
            .unwrap();
        let again = keys
            .authenticate(PushMode::Encryption, "01/12/2026 10:00:00", &records)
            .unwrap();
        // PKCS#1 v1.5 encryption is randomised.
        assert_ne!(sealed, again);
        let private = RsaPrivateKey::from_pkcs8_pem(PRIVATE)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(PRIVATE))
            .unwrap();
        let open = private
            .decrypt(Pkcs1v15Encrypt, &BASE64.decode(sealed).unwrap())
            .unwrap();
        assert_eq!(open, b"MYVNP01/12/2026 10:00:00EB1VN6");
    }
}
