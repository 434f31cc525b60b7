//! Prometheus metrics (`GET /metrics`): queue depth, job attempts by outcome, carrier latency,
//! reports ingested; and the request span of every HTTP request (`request_span`).

pub mod request_span;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// The process-wide recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()),
                &[
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0,
                ],
            )
            .expect("valid buckets")
            // Creates committed together (`api::group_commit`), up to its largest group.
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Full("bcci_create_group_size".into()),
                &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0],
            )
            .expect("valid buckets")
            // Delivered callbacks recorded together (`jobs::delivered`).
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Full("bcci_delivered_batch_size".into()),
                &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0],
            )
            .expect("valid buckets")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (several gateways in one test process).
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Crates that would log personal data at debug or trace: the database driver logs every
/// statement with its bound parameters (names, phones, identity numbers). They are held at
/// `warn` whatever `BCCI_LOG` says, so that statement logging cannot be turned on by
/// accident (Decree 13/2023/NĐ-CP).
pub const QUIET_TARGETS: &[&str] = &[
    "tokio_postgres",
    "postgres",
    "diesel",
    "diesel_async",
    "diesel_migrations",
    "deadpool",
    "deadpool_postgres",
];

/// The log filter for `spec` (the value of `BCCI_LOG`; `info` when absent or invalid), with
/// the [`QUIET_TARGETS`] forced to `warn`: a directive of the operator's naming one of them
/// (or a module inside one) is dropped.
pub fn log_filter(spec: Option<&str>) -> tracing_subscriber::EnvFilter {
    let quiet = |directive: &str| {
        let target = directive.split(['[', '=']).next().unwrap_or("").trim();
        QUIET_TARGETS
            .iter()
            .any(|t| target == *t || target.starts_with(&format!("{t}::")))
    };
    let mut kept: Vec<String> = spec
        .unwrap_or("info")
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty() && !quiet(d))
        .map(str::to_owned)
        .collect();
    kept.extend(QUIET_TARGETS.iter().map(|t| format!("{t}=warn")));
    tracing_subscriber::EnvFilter::try_new(kept.join(",")).unwrap_or_else(|e| {
        eprintln!("BCCI_LOG is not a valid filter ({e}); logging at info");
        let mut fallback = vec!["info".to_owned()];
        fallback.extend(QUIET_TARGETS.iter().map(|t| format!("{t}=warn")));
        tracing_subscriber::EnvFilter::new(fallback.join(","))
    })
}

#[cfg(test)]
mod tests {
    use super::log_filter;

    #[test]
    fn driver_targets_stay_at_warn() {
        for spec in [
            "trace",
            "debug,tokio_postgres=trace",
            "tokio_postgres::query=trace,diesel_async",
            "info,tokio_postgres[{x}]=debug",
        ] {
            let shown = log_filter(Some(spec)).to_string();
            assert!(shown.contains("tokio_postgres=warn"), "{spec}: {shown}");
            assert!(!shown.contains("tokio_postgres=trace"), "{spec}: {shown}");
            assert!(!shown.contains("tokio_postgres::query"), "{spec}: {shown}");
            assert!(!shown.contains("diesel_async,"), "{spec}: {shown}");
        }
        assert!(log_filter(None).to_string().contains("info"));
    }
}
