//! Console sessions: a staff JWT (SPEC §2) is exchanged at sign-in for a random session id in
//! an HttpOnly, SameSite=Strict cookie. The server keeps only the id's SHA-256 with the
//! verified claims and an expiry, so a forged, expired or signed-out cookie finds nothing.
//! Every form carries the session's anti-forgery token, checked on POST.

use super::error::ConsoleError;
use crate::auth::{Principal, Scope};
use crate::config::{Config, CookieSecure};
use crate::ledger::sessions as ledger;
use crate::state::AppState;
use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use futures_util::future::LocalBoxFuture;
use sha2::{Digest, Sha256};

/// The path every console cookie is limited to: the API never receives them.
const COOKIE_PATH: &str = "/console";

/// A signed-in staff member.
#[derive(Debug, Clone)]
pub struct Staff {
    pub who: Principal,
    pub csrf: String,
    id_hash: Vec<u8>,
}

impl Staff {
    pub fn can_act(&self) -> bool {
        self.who.has(Scope::StaffAct)
    }

    pub fn sees_pii(&self) -> bool {
        self.who.sees_pii()
    }

    /// The form's token must be this session's.
    pub fn check_csrf(&self, token: &str) -> Result<(), ConsoleError> {
        if constant_time_eq(token.as_bytes(), self.csrf.as_bytes()) {
            Ok(())
        } else {
            Err(ConsoleError::Csrf)
        }
    }

    /// Actions (retry, cancel, replay, letters…) need `staff:act`.
    pub fn require_act(&self) -> Result<(), ConsoleError> {
        if self.can_act() {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden(
                "Thao tác này cần quyền xử lý (staff:act).",
            ))
        }
    }

    pub fn actor(&self) -> crate::ledger::shipments::Actor {
        crate::ledger::shipments::Actor::staff(&self.who.sub, self.who.name.as_deref())
    }

    pub(super) fn id_hash(&self) -> &[u8] {
        &self.id_hash
    }
}

impl FromRequest for Staff {
    type Error = ConsoleError;
    type Future = LocalBoxFuture<'static, Result<Staff, ConsoleError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req
            .app_data::<web::Data<AppState>>()
            .expect("AppState is registered")
            .clone();
        let name = state.config.console.cookie_name.clone();
        let cookie = req.cookie(&name).map(|c| c.value().to_owned());
        // Come back to the page asked for after signing in (GET only: a form must be
        // filled in again anyway).
        let next = (req.method() == Method::GET).then(|| match req.query_string() {
            "" => req.path().to_owned(),
            q => format!("{}?{q}", req.path()),
        });
        Box::pin(async move {
            let Some(value) = cookie else {
                return Err(ConsoleError::SignIn { next, clear: None });
            };
            let id_hash = hash(&value);
            let mut conn = state.pool.get().await?;
            match ledger::find_session(&mut conn, &id_hash).await? {
                Some(s) => Ok(Staff {
                    who: Principal {
                        sub: s.sub,
                        scopes: s.scopes.iter().filter_map(|x| Scope::parse(x)).collect(),
                        offices: s.offices,
                        name: s.name,
                    },
                    csrf: s.csrf_token,
                    id_hash,
                }),
                None => Err(ConsoleError::SignIn {
                    next,
                    clear: Some(name),
                }),
            }
        })
    }
}

/// 32 random bytes, URL-safe base64.
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

pub fn hash(value: &str) -> Vec<u8> {
    Sha256::digest(value.as_bytes()).to_vec()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn secure(config: &Config) -> bool {
    match config.console.cookie_secure {
        CookieSecure::Always => true,
        CookieSecure::Never => false,
        CookieSecure::Auto => config.server.public_url.scheme() == "https",
    }
}

fn build(config: &Config, name: String, value: String, until: DateTime<Utc>) -> Cookie<'static> {
    let mut c = Cookie::build(name, value)
        .path(COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure(config))
        .max_age(time::Duration::seconds(
            (until - Utc::now()).num_seconds().max(0),
        ))
        .finish();
    if let Ok(at) = time::OffsetDateTime::from_unix_timestamp(until.timestamp()) {
        c.set_expires(at);
    }
    c
}

/// The session cookie.
pub fn cookie(config: &Config, value: String, until: DateTime<Utc>) -> Cookie<'static> {
    build(config, config.console.cookie_name.clone(), value, until)
}

/// The short-lived cookie that ties the sign-in form to this browser (against login CSRF:
/// another site cannot sign a browser in to its own token).
pub fn sign_in_cookie(config: &Config, value: String) -> Cookie<'static> {
    build(
        config,
        sign_in_cookie_name(config),
        value,
        Utc::now() + chrono::Duration::hours(1),
    )
}

pub fn sign_in_cookie_name(config: &Config) -> String {
    format!("{}_signin", config.console.cookie_name)
}

/// Removes a console cookie from the browser.
pub fn removal(name: &str) -> Cookie<'static> {
    let mut c = Cookie::build(name.to_owned(), "")
        .path(COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish();
    c.make_removal();
    c
}

/// The `exp` of a token already verified (the verifier does not return it).
pub fn token_expiry(token: &str) -> Option<DateTime<Utc>> {
    #[derive(serde::Deserialize)]
    struct Exp {
        exp: i64,
    }
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let exp: Exp = serde_json::from_slice(&bytes).ok()?;
    DateTime::from_timestamp(exp.exp, 0)
}

/// Opens a session for `who`, ending no later than `token_exp`; returns the cookie's value.
pub async fn open(
    state: &AppState,
    who: &Principal,
    token_exp: Option<DateTime<Utc>>,
) -> Result<(String, DateTime<Utc>), ConsoleError> {
    let lifetime = chrono::Duration::from_std(state.config.console.session_lifetime)
        .unwrap_or(chrono::Duration::hours(8));
    let mut until = Utc::now() + lifetime;
    if let Some(exp) = token_exp {
        until = until.min(exp);
    }
    let value = random_token();
    let session = ledger::Session {
        id_hash: hash(&value),
        csrf_token: random_token(),
        sub: who.sub.clone(),
        name: who.name.clone(),
        scopes: who.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        offices: who.offices.clone(),
        created_at: Utc::now(),
        expires_at: until,
    };
    let mut conn = state.pool.get().await?;
    ledger::open_session(&mut conn, &session).await?;
    Ok((value, until))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_compared_in_full() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(constant_time_eq(a.as_bytes(), a.clone().as_bytes()));
        assert!(!constant_time_eq(a.as_bytes(), b.as_bytes()));
        assert!(!constant_time_eq(a.as_bytes(), &a.as_bytes()[..42]));
    }

    #[test]
    fn expiry_is_read_from_the_payload() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"x","exp":1800000000}"#);
        let token = format!("e30.{payload}.sig");
        assert_eq!(
            token_expiry(&token),
            DateTime::from_timestamp(1_800_000_000, 0)
        );
        assert_eq!(token_expiry("garbage"), None);
    }
}
