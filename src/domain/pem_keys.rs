//! The RSA keys of the carrier's pushes (SPEC §6), read from PEM text: pure parsing, shared by
//! `config` (which checks them when it is read, so that a bad key stops start-up, not a push)
//! and `carrier::push` (which builds the verifiers from them).

use rsa::RsaPublicKey;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;

/// A PEM RSA public key, SPKI (`BEGIN PUBLIC KEY`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`).
pub fn public_key(pem: &str) -> Result<RsaPublicKey, String> {
    RsaPublicKey::from_public_key_pem(pem)
        .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem))
        .map_err(|e| e.to_string())
}

/// A PEM RSA private key, PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`), as
/// OpenSSL reads it: the gateway decrypts with OpenSSL (constant time, see
/// `carrier::push::PushDecryptor`), so the check must accept exactly what it accepts.
pub fn decryption_key(pem: &str) -> Result<openssl::rsa::Rsa<openssl::pkey::Private>, String> {
    openssl::pkey::PKey::private_key_from_pem(pem.as_bytes())
        .and_then(|k| k.rsa())
        .map_err(|e| format!("not an RSA private key in PEM: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: &str = include_str!("../../config/sandbox/carrier-push-public.pem");
    const PRIVATE: &str = include_str!("../../config/sandbox/gateway-webhook-private.pem");

    #[test]
    fn each_half_is_read_only_as_itself() {
        assert!(public_key(PUBLIC).is_ok());
        assert!(decryption_key(PRIVATE).is_ok());
        assert!(public_key(PRIVATE).is_err());
        assert!(decryption_key(PUBLIC).is_err());
        assert!(public_key("not a key").is_err());
        assert!(decryption_key("not a key").is_err());
    }
}
