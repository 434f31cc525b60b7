//! The `bcci-gateway` command.

use anyhow::Context;
use bcci_gateway::config::Config;
use bcci_gateway::{auth, ledger, server};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "bcci-gateway",
    version,
    about = "Gateway between a dossier system and the public postal carrier"
)]
struct Cli {
    /// A TOML file layered over the built-in defaults (config/default.toml).
    #[arg(long, global = true, env = "BCCI_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create and migrate the database, then serve the API.
    Serve,
    /// Create the database if needed and apply pending migrations.
    Migrate,
    /// Load and validate the configuration, print a summary (without secrets).
    CheckConfig,
    /// Talk to the configured carrier.
    Carrier {
        #[command(subcommand)]
        command: CarrierCommand,
    },
    /// Check a deployment: configuration, database (reachable, migrated), clocks, carrier login
    /// and the offices' communes, the webhook key, each client's callback URL. Says what to
    /// fix; exits with 1 when something needs fixing.
    Doctor,
    /// Run the sandbox carrier (SPEC §8) on its own, on `carrier.sandbox.listen`.
    CarrierSim,
    /// Reconcile a month with VNPost ("Đối soát"): pull VNPost's list of the month's orders,
    /// store its figures beside the ledger's, print the summary and the differences.
    Reconcile(bcci_gateway::reconcile::cli::Args),
    /// Mint an HS256 token with the configured secret.
    Token {
        /// `sub`: a client id, or a staff user id.
        #[arg(long)]
        sub: String,
        /// Scopes, space- or comma-separated, e.g. "shipments:write shipments:read".
        #[arg(long)]
        scopes: String,
        /// Offices a staff member is limited to (comma-separated).
        #[arg(long)]
        offices: Option<String>,
        /// Display name of a staff member.
        #[arg(long)]
        name: Option<String>,
        /// Lifetime, e.g. "1h", "30d".
        #[arg(long, default_value = "12h")]
        ttl: humantime::Duration,
    },
}

#[derive(Subcommand)]
enum CarrierCommand {
    /// Log in, pull VNPost's address catalogues, and report every configured office's commune
    /// and every official 2025 code VNPost lacks or names differently. Exits with 2 when an
    /// office's own commune is unknown to VNPost.
    Check,
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// `carrier check`. With the sandbox carrier, a sandbox is started for the check.
async fn carrier_check(config: &Config) -> anyhow::Result<()> {
    let (base_url, result) = bcci_gateway::carrier::catalogue::check_configured(config).await;
    println!("carrier: {base_url} ({:?})", config.carrier.kind);
    let report = result?;
    println!("logged in");
    print!("{report}");
    let unknown = report.unknown_offices().count();
    if unknown > 0 {
        eprintln!("error: {unknown} office(s) have a commune VNPost does not know");
        std::process::exit(2);
    }
    Ok(())
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(bcci_gateway::telemetry::log_filter(
            std::env::var("BCCI_LOG").ok().as_deref(),
        ))
        .with_writer(std::io::stderr)
        .init();
    if let Command::Doctor = cli.command {
        // A configuration that does not load is the doctor's first finding, not an error.
        let report = match Config::load(cli.config.as_deref()) {
            Ok(config) => bcci_gateway::doctor::run(&config).await,
            Err(e) => bcci_gateway::doctor::Report::bad_configuration(e),
        };
        print!("{report}");
        if !report.ok() {
            std::process::exit(1);
        }
        return Ok(());
    }
    let config = Arc::new(Config::load(cli.config.as_deref())?);
    match cli.command {
        Command::Serve => {
            let listener =
                std::net::TcpListener::bind(config.server.listen).with_context(|| {
                    format!("server.listen: cannot listen on {}", config.server.listen)
                })?;
            let gateway = server::Gateway::start((*config).clone(), listener).await?;
            tracing::info!(listen = %config.server.listen, public_url = %config.server.public_url, carrier = ?config.carrier.kind, "serving");
            shutdown_signal().await;
            tracing::info!("stopping: finishing requests and jobs in progress");
            gateway.stop().await
        }
        Command::Migrate => {
            let url = config.database.url.expose();
            if config.database.create_if_missing {
                ledger::ensure_database(url).await?;
            }
            let applied = ledger::migrate(url).await?;
            println!(
                "applied {} migration(s); schema at {}",
                applied.len(),
                ledger::latest_migration()
            );
            Ok(())
        }
        Command::CarrierSim => {
            let cfg = config.carrier.sandbox.clone();
            let listener = std::net::TcpListener::bind(cfg.listen).with_context(|| {
                format!("carrier.sandbox.listen: cannot listen on {}", cfg.listen)
            })?;
            let sandbox = bcci_gateway::carrier::sandbox::start(cfg, listener).await?;
            println!("sandbox carrier listening on {}", sandbox.base_url());
            shutdown_signal().await;
            sandbox.stop().await;
            Ok(())
        }
        Command::Carrier {
            command: CarrierCommand::Check,
        } => carrier_check(&config).await,
        Command::Reconcile(args) => bcci_gateway::reconcile::cli::run(&config, args).await,
        Command::Doctor => unreachable!("handled before the configuration is loaded"),
        Command::CheckConfig => {
            println!("configuration is valid");
            println!("  server.listen         {}", config.server.listen);
            println!("  carrier.kind          {:?}", config.carrier.kind);
            println!(
                "  clients               {}",
                config
                    .clients
                    .iter()
                    .map(|c| c.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            println!(
                "  offices               {}",
                config
                    .offices
                    .iter()
                    .map(|o| o.code.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            println!("  carrier.webhook_mode  {:?}", config.carrier.webhook_mode);
            let overrides: Vec<_> = config.carrier.status_codes.overrides().collect();
            if overrides.is_empty() {
                println!("  carrier.status_codes  SPEC §5 table, no override");
            } else {
                println!("  carrier.status_codes  overrides of SPEC §5's table:");
                for (code, spec, configured) in overrides {
                    println!("    {code:>4}  {spec} -> {configured}");
                }
            }
            for (official, vnpost) in &config.carrier.commune_codes {
                println!("  carrier.commune_codes {official} -> {vnpost} (VNPost)");
            }
            Ok(())
        }
        Command::Token {
            sub,
            scopes,
            offices,
            name,
            ttl,
        } => {
            let scopes: Vec<&str> = scopes.split([' ', ',']).filter(|s| !s.is_empty()).collect();
            for s in &scopes {
                anyhow::ensure!(auth::Scope::parse(s).is_some(), "unknown scope `{s}`");
            }
            let offices = offices.map(|o| o.split(',').map(|s| s.trim().to_owned()).collect());
            let ttl = chrono::Duration::from_std(*ttl).context("ttl too large")?;
            let claims = auth::claims_for(&config.auth, &sub, &scopes, offices, name, ttl);
            println!("{}", auth::mint(&config.auth, &claims)?);
            Ok(())
        }
    }
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
