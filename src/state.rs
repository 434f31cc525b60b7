//! What every request handler shares (`AppState`): configuration, the database pool, the
//! token verifier, the carrier client, the carrier's push keys and the rate limits. Built once
//! at start-up and handed to the API and the console alike.
//!
//! Rate limits per caller (issue 11 §3): requests a minute per dossier system and per staff
//! member, checked once the token is verified (the key is its `sub`, which an attacker cannot
//! choose), and one bucket for the carrier's webhook. Past a limit: 429 with `Retry-After`.
//! GCRA (governor): a bucket holds a minute's worth and refills evenly, so a client that
//! stays under its rate is never refused, whatever its bursts within the minute.

use crate::api::group_commit::GroupCommit;
use crate::auth::Principal;
use crate::auth::Verifier;
use crate::carrier::VnPost;
use crate::carrier::push::PushKeys;
use crate::config::Config;
use crate::config::Limits;
use crate::error::ApiError;
use crate::jobs::wakeup::Wakeup;
use crate::ledger::Pool;
use actix_web::HttpRequest;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct RateLimits {
    client: Option<DefaultKeyedRateLimiter<String>>,
    staff: Option<DefaultKeyedRateLimiter<String>>,
    webhook: Option<DefaultDirectRateLimiter>,
    clock: DefaultClock,
    checks: AtomicU64,
}

fn quota(per_minute: u32) -> Option<Quota> {
    NonZeroU32::new(per_minute).map(Quota::per_minute)
}

impl RateLimits {
    pub fn new(cfg: &Limits) -> RateLimits {
        RateLimits {
            client: quota(cfg.client_per_minute).map(RateLimiter::keyed),
            staff: quota(cfg.staff_per_minute).map(RateLimiter::keyed),
            webhook: quota(cfg.webhook_per_minute).map(RateLimiter::direct),
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
        }
    }

    /// One request by an authenticated caller: staff and dossier systems in their own buckets.
    pub fn check(&self, who: &Principal) -> Result<(), ApiError> {
        let (limiter, kind) = if who.is_staff() {
            (&self.staff, "staff member")
        } else {
            (&self.client, "client")
        };
        let Some(limiter) = limiter else {
            return Ok(());
        };
        // Now and then, drop the buckets that are full again: memory stays bounded by the
        // callers active within the last minute.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            limiter.retain_recent();
        }
        limiter
            .check_key(&who.sub)
            .map_err(|not_until| self.refused(not_until.wait_time_from(self.clock.now()), kind))
    }

    /// One push to the carrier webhook.
    pub fn check_webhook(&self) -> Result<(), ApiError> {
        let Some(limiter) = &self.webhook else {
            return Ok(());
        };
        limiter.check().map_err(|not_until| {
            self.refused(
                not_until.wait_time_from(self.clock.now()),
                "carrier webhook",
            )
        })
    }

    fn refused(&self, wait: std::time::Duration, kind: &str) -> ApiError {
        metrics::counter!("bcci_rate_limited_total", "caller" => kind.replace(' ', "_"))
            .increment(1);
        // Whole seconds, rounded up: a client that waits this long is let through.
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        ApiError::TooManyRequests {
            retry_after_secs: secs.max(1),
            detail: format!(
                "This {kind} sent more requests than its limit a minute; retry after {} s",
                secs.max(1)
            ),
        }
    }
}

/// What every handler shares.
pub struct AppState {
    pub config: Arc<Config>,
    pub pool: Pool,
    pub verifier: Verifier,
    /// The carrier, for the calls a request waits on (quotes, waybills); shared with the job
    /// workers, so that there is one login.
    pub carrier: Arc<VnPost>,
    /// The keys the carrier's pushes are checked with (`carrier.webhook_mode`), parsed once.
    pub push_keys: PushKeys,
    /// Requests a minute per caller (`[limits]`).
    pub limits: RateLimits,
    /// The citizens' page's form look-ups a minute per client IP (`[citizen]`).
    pub citizen: CitizenLookups,
    /// Wakes the job workers after a request commits (see `app`'s middleware).
    pub wakeup: Arc<Wakeup>,
    /// Writes the API's creates, in groups under load (`api::group_commit`).
    pub creates: GroupCommit,
}

impl AppState {
    pub fn new(config: Arc<Config>, pool: Pool) -> anyhow::Result<AppState> {
        let verifier = Verifier::new(&config.auth)?;
        let carrier = Arc::new(VnPost::new(&config.carrier)?);
        let push_keys = PushKeys::from_config(&config.carrier)?;
        let limits = RateLimits::new(&config.limits);
        // A quarter of the request pool writes creates: the rest stays free for reads and
        // the other writes, whatever the create load.
        let creates = GroupCommit::new(pool.clone(), config.database.pool_size / 4);
        Ok(AppState {
            creates,
            citizen: CitizenLookups::new(&config.citizen),
            limits,
            config,
            pool,
            verifier,
            carrier,
            push_keys,
            wakeup: Wakeup::new(),
        })
    }
}

/// Form look-ups a minute per client IP (`citizen.lookups_per_minute`). Shared by every HTTP
/// worker of the process (it lives in `AppState`); used by `citizen`.
pub struct CitizenLookups {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    checks: AtomicU64,
    trust_forwarded_for: bool,
}

impl CitizenLookups {
    pub fn new(cfg: &crate::config::Citizen) -> CitizenLookups {
        let per_minute = NonZeroU32::new(cfg.lookups_per_minute)
            .expect("citizen.lookups_per_minute >= 1 (checked with the configuration)");
        CitizenLookups {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
            trust_forwarded_for: cfg.trust_forwarded_for,
        }
    }

    /// One look-up by `ip`: `Err(seconds to wait)` past the limit.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        // Now and then, drop the buckets that are full again (memory bounded by the clients
        // of the last minute).
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&bucket(ip)).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }

    /// The client: the connection's peer, or behind a trusted proxy the last
    /// `X-Forwarded-For` hop (the one that proxy appended; earlier ones are the client's say).
    pub fn client_ip(&self, req: &HttpRequest) -> Option<IpAddr> {
        if self.trust_forwarded_for
            && let Some(ip) = req
                .headers()
                .get_all("x-forwarded-for")
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .next_back()
                .and_then(|hop| hop.trim().parse().ok())
        {
            return Some(ip);
        }
        req.peer_addr().map(|a| a.ip())
    }
}

/// One bucket per IPv4 address, one per IPv6 /64 (what one subscriber usually gets).
pub fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}
