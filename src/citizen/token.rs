//! The token of a tracking link (`/tra-cuu/<token>`): base64url of the shipment's id (16 bytes)
//! and the first 16 bytes of HMAC-SHA256(`citizen.token_key`, "tra-cuu" ‖ id). Nothing is
//! stored: the key makes it unguessable (2^128 tries per shipment), and the MAC is checked in
//! constant time before the database is asked anything.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// Domain separation: the key signs nothing else today, and must not be confused with
/// anything it signs tomorrow.
const CONTEXT: &[u8] = b"tra-cuu";
const TAG_LEN: usize = 16;
/// 32 bytes in base64url without padding.
pub const TOKEN_LEN: usize = 43;

fn mac(key: &[u8], id: Uuid) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    m.update(CONTEXT);
    m.update(id.as_bytes());
    m
}

/// The token of shipment `id`.
pub fn token(key: &[u8], id: Uuid) -> String {
    let tag = mac(key, id).finalize().into_bytes();
    let mut raw = [0u8; 16 + TAG_LEN];
    raw[..16].copy_from_slice(id.as_bytes());
    raw[16..].copy_from_slice(&tag[..TAG_LEN]);
    URL_SAFE_NO_PAD.encode(raw)
}

/// The shipment a token names, if its MAC is right (checked in constant time).
pub fn verify(key: &[u8], token: &str) -> Option<Uuid> {
    if token.len() != TOKEN_LEN {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
    if raw.len() != 16 + TAG_LEN {
        return None;
    }
    let id = Uuid::from_slice(&raw[..16]).ok()?;
    mac(key, id).verify_truncated_left(&raw[16..]).ok()?;
    Some(id)
}

/// `<server.public_url>/tra-cuu/<token>`: the link printed on the appointment slip.
pub fn tracking_url(config: &crate::config::Config, id: Uuid) -> String {
    format!(
        "{}/tra-cuu/{}",
        config.server.public_url.as_str().trim_end_matches('/'),
        token(config.citizen.token_key.expose().as_bytes(), id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"a test key of at least thirty-two bytes";

    #[test]
    fn round_trip() {
        let id = Uuid::now_v7();
        let t = token(KEY, id);
        assert_eq!(t.len(), TOKEN_LEN);
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(verify(KEY, &t), Some(id));
        // deterministic: the link printed on the slip stays valid
        assert_eq!(token(KEY, id), t);
    }

    #[test]
    fn forgeries_are_refused() {
        let id = Uuid::now_v7();
        let t = token(KEY, id);
        // another key
        assert_eq!(
            verify(b"another key of at least thirty-two bytes!", &t),
            None
        );
        // every single flipped character of the tag or the id
        for i in 0..t.len() {
            let mut b = t.clone().into_bytes();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            let forged = String::from_utf8(b).unwrap();
            if forged != t {
                assert_eq!(verify(KEY, &forged), None, "position {i}");
            }
        }
        // another shipment's id with this tag
        let other = Uuid::now_v7();
        let raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
        let mut swapped = other.as_bytes().to_vec();
        swapped.extend_from_slice(&raw[16..]);
        assert_eq!(verify(KEY, &URL_SAFE_NO_PAD.encode(swapped)), None);
        // malformed
        for bad in ["", "abc", &t[..42], &format!("{t}A"), &t.replace('A', "+")] {
            if bad != t {
                assert_eq!(verify(KEY, bad), None, "{bad}");
            }
        }
    }

    #[test]
    fn url_under_the_public_url() {
        let mut c = crate::config::Config::from_overlay("").unwrap();
        let id = Uuid::now_v7();
        c.server.public_url = "https://bcci.example.gov.vn/".parse().unwrap();
        let u = tracking_url(&c, id);
        let t = u
            .strip_prefix("https://bcci.example.gov.vn/tra-cuu/")
            .unwrap();
        assert_eq!(verify(c.citizen.token_key.expose().as_bytes(), t), Some(id));
    }
}
