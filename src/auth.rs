//! Bearer-token authentication (SPEC §2): JWTs verified with `jsonwebtoken`, the key chosen by
//! `kid` and the algorithm pinned per key, so `alg: none` and algorithm confusion are refused.

use crate::config::{Auth, KeyAlgorithm};
use crate::error::ApiError;
use crate::ledger::shipments::Visibility;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    ShipmentsWrite,
    ShipmentsRead,
    StaffRead,
    StaffPii,
    StaffAct,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Scope::ShipmentsWrite,
        Scope::ShipmentsRead,
        Scope::StaffRead,
        Scope::StaffPii,
        Scope::StaffAct,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ShipmentsWrite => "shipments:write",
            Scope::ShipmentsRead => "shipments:read",
            Scope::StaffRead => "staff:read",
            Scope::StaffPii => "staff:pii",
            Scope::StaffAct => "staff:act",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// The claims of SPEC §2.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default)]
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offices: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub sub: String,
    pub scopes: Vec<Scope>,
    pub offices: Option<Vec<String>>,
    pub name: Option<String>,
}

impl Principal {
    pub fn has(&self, s: Scope) -> bool {
        self.scopes.contains(&s) || self.scopes.contains(&Scope::Admin)
    }

    /// People (staff) see every client's shipments, within their offices.
    pub fn is_staff(&self) -> bool {
        self.has(Scope::StaffRead)
    }

    pub fn require(&self, s: Scope) -> Result<(), ApiError> {
        if self.has(s) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this needs the scope `{}`",
                s.as_str()
            )))
        }
    }

    /// May read shipments at all.
    pub fn require_read(&self) -> Result<(), ApiError> {
        if self.is_staff() || self.has(Scope::ShipmentsRead) || self.has(Scope::ShipmentsWrite) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "this needs the scope `shipments:read` or `staff:read`".into(),
            ))
        }
    }

    pub fn visibility(&self) -> Visibility {
        if self.is_staff() {
            Visibility {
                client_id: None,
                offices: self.offices.clone(),
            }
        } else {
            Visibility {
                client_id: Some(self.sub.clone()),
                offices: None,
            }
        }
    }

    /// Staff without `staff:pii` see names and phones masked; a dossier system sees its own
    /// citizens' data in clear.
    pub fn sees_pii(&self) -> bool {
        !self.is_staff() || self.has(Scope::StaffPii)
    }
}

struct Key {
    decoding: DecodingKey,
    algorithm: Algorithm,
}

pub struct Verifier {
    default: Key,
    by_kid: HashMap<String, Key>,
    issuer: String,
    audience: String,
    leeway: u64,
}

impl Verifier {
    pub fn new(cfg: &Auth) -> anyhow::Result<Verifier> {
        let mut by_kid = HashMap::new();
        for k in &cfg.keys {
            // A public key in PEM, read by `parse`; `what` names the kind it must be.
            let pem = |parse: fn(&[u8]) -> jsonwebtoken::errors::Result<DecodingKey>,
                       what: &str| {
                let text = k.public_key_pem.as_ref().expect("validated").expose();
                parse(text.as_bytes())
                    .map_err(|e| anyhow::anyhow!("auth.keys `{}`: not {what}: {e}", k.kid))
            };
            let (decoding, algorithm) = match k.algorithm {
                KeyAlgorithm::HS256 => (
                    DecodingKey::from_secret(
                        k.secret.as_ref().expect("validated").expose().as_bytes(),
                    ),
                    Algorithm::HS256,
                ),
                KeyAlgorithm::RS256 => (
                    pem(DecodingKey::from_rsa_pem, "an RSA public key")?,
                    Algorithm::RS256,
                ),
                KeyAlgorithm::EdDSA => (
                    pem(DecodingKey::from_ed_pem, "an Ed25519 public key")?,
                    Algorithm::EdDSA,
                ),
            };
            by_kid.insert(
                k.kid.clone(),
                Key {
                    decoding,
                    algorithm,
                },
            );
        }
        Ok(Verifier {
            default: Key {
                decoding: DecodingKey::from_secret(cfg.hs256_secret.expose().as_bytes()),
                algorithm: Algorithm::HS256,
            },
            by_kid,
            issuer: cfg.issuer.clone(),
            audience: cfg.audience.clone(),
            leeway: cfg.leeway.as_secs(),
        })
    }

    pub fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        let unauthorized = |why: &str| ApiError::Unauthorized(why.to_owned());
        // An unknown `alg` (including "none") fails here.
        let header = jsonwebtoken::decode_header(token).map_err(|_| {
            unauthorized("the token is malformed or uses an algorithm that is not accepted")
        })?;
        let key = match header.kid.as_deref() {
            None | Some("default") => &self.default,
            Some(kid) => self
                .by_kid
                .get(kid)
                .ok_or_else(|| unauthorized("the token's key id is not known"))?,
        };
        let mut v = Validation::new(key.algorithm);
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[&self.audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.leeway = self.leeway;
        v.validate_nbf = true;
        let data = jsonwebtoken::decode::<Claims>(token, &key.decoding, &v).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind::*;
            unauthorized(match e.kind() {
                ExpiredSignature => "the token has expired",
                ImmatureSignature => "the token is not valid yet",
                InvalidIssuer => "the token's issuer is not accepted",
                InvalidAudience => "the token's audience is not this gateway",
                InvalidAlgorithm => "the token's algorithm is not the one of its key",
                InvalidSignature => "the token's signature is not valid",
                MissingRequiredClaim(_) => "the token lacks a required claim",
                _ => "the token is not valid",
            })
        })?;
        let c = data.claims;
        Ok(Principal {
            sub: c.sub,
            scopes: c
                .scope
                .split_whitespace()
                .filter_map(Scope::parse)
                .collect(),
            offices: c.offices,
            name: c.name,
        })
    }
}

/// Mints an HS256 token with the configured default secret (the `token` command, tests).
pub fn mint(cfg: &Auth, claims: &Claims) -> anyhow::Result<String> {
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(cfg.hs256_secret.expose().as_bytes()),
    )?)
}

/// Claims for `sub` with the configured issuer and audience, valid for `ttl`.
pub fn claims_for(
    cfg: &Auth,
    sub: &str,
    scopes: &[&str],
    offices: Option<Vec<String>>,
    name: Option<String>,
    ttl: chrono::Duration,
) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        sub: sub.to_owned(),
        iss: cfg.issuer.clone(),
        aud: cfg.audience.clone(),
        exp: now + ttl.num_seconds(),
        nbf: Some(now),
        iat: Some(now),
        scope: scopes.join(" "),
        offices,
        name,
    }
}
