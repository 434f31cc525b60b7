//! `bcci-gateway reconcile --month YYYY-MM [--xlsx FILE] [--csv FILE]`.
//!
//! With `carrier.kind = "sandbox"` the command asks the sandbox at `carrier.base_url`, i.e. the
//! one a running `serve` started (the command does not start its own: an empty sandbox would
//! make every shipment a difference).

use super::export::{self, Section};
use super::{Starter, office_names};
use crate::carrier::VnPost;
use crate::config::Config;
use crate::domain::reconcile::{DifferenceKind, Month, Report};
use anyhow::Context;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The Vietnamese calendar month, YYYY-MM (e.g. 2026-11).
    #[arg(long)]
    pub month: String,
    /// Also write the workbook (.xlsx: Tổng hợp, COD, Phí hủy, Chênh lệch) to this file.
    #[arg(long)]
    pub xlsx: Option<PathBuf>,
    /// Also write the differences as CSV to this file.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Do not pull from VNPost: reconcile with the figures the last pull stored.
    #[arg(long)]
    pub no_pull: bool,
}

pub async fn run(config: &Config, args: Args) -> anyhow::Result<()> {
    let month: Month = args
        .month
        .parse()
        .with_context(|| format!("--month {:?}", args.month))?;
    let pool = crate::ledger::pool(
        config.database.url.expose(),
        2,
        config.database.acquire_timeout,
    )?;
    let now = chrono::Utc::now();
    if !args.no_pull {
        let carrier = VnPost::new(&config.carrier)?;
        let pulled = super::pull(&pool, &carrier, month, &Starter::command_line(), now)
            .await
            .with_context(|| format!("reconcile {month}"))?;
        println!(
            "pulled VNPost's GetListOrder {} to {}: {} order(s) listed, {} of {month} kept (run {})",
            pulled.from.format("%d-%m-%Y"),
            pulled.to.format("%d-%m-%Y"),
            pulled.listed,
            pulled.kept,
            pulled.run_id
        );
    }
    let mut conn = pool.get().await.context("database")?;
    let Some((run, report)) = super::report(&mut conn, config, month, now).await? else {
        anyhow::bail!("{month} was never pulled from VNPost: run without --no-pull");
    };
    drop(conn);
    println!(
        "reconciliation of {month} with the pull of {} (run {})",
        crate::carrier::vntime::local(run.finished_at).format("%d/%m/%Y %H:%M:%S %:z"),
        run.id
    );
    print!("{}", summary(&report));
    let names = office_names(config);
    if let Some(path) = &args.xlsx {
        let bytes = export::xlsx(&report, &names).context("build the workbook")?;
        std::fs::write(path, bytes).with_context(|| format!("write {}", path.display()))?;
        println!("workbook written to {}", path.display());
    }
    if let Some(path) = &args.csv {
        std::fs::write(path, export::csv(&report, &names, Section::Differences))
            .with_context(|| format!("write {}", path.display()))?;
        println!("differences written to {}", path.display());
    }
    Ok(())
}

/// The command's printout: per office the figures side by side, then each difference.
pub fn summary(r: &Report) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16} {:>8} {:>14} {:>8} {:>14} {:>14} {:>14} {:>14} {:>8} {:>6}",
        "office",
        "ledger",
        "ledger fee",
        "vnpost",
        "vnpost fee",
        "cod collected",
        "cod paid (21)",
        "cod owed",
        "fees 29",
        "diffs"
    );
    for o in r.offices.iter().chain(std::iter::once(&r.total)) {
        let name = if std::ptr::eq(o, &r.total) {
            "total"
        } else {
            o.office.as_deref().unwrap_or("(unknown)")
        };
        let _ = writeln!(
            out,
            "{name:<16} {:>8} {:>14} {:>8} {:>14} {:>14} {:>14} {:>14} {:>8} {:>6}",
            o.ledger_shipments,
            o.ledger_fee_vnd,
            o.carrier_shipments,
            o.carrier_fee_vnd,
            o.cod_collected_vnd,
            o.cod_paid_vnd,
            o.cod_outstanding_vnd,
            o.cancel_fees,
            o.differences
        );
    }
    if r.differences.is_empty() {
        let _ = writeln!(out, "no difference");
    }
    for d in &r.differences {
        let amounts = match d.kind {
            DifferenceKind::FeeDiffers | DifferenceKind::CodDiffers => format!(
                " ledger {} vnpost {}",
                d.ledger_vnd.map_or("-".into(), |v| v.to_string()),
                d.carrier_vnd.map_or("-".into(), |v| v.to_string())
            ),
            DifferenceKind::CodNotPaidOut => format!(
                " {} not paid out {} day(s) after delivery",
                d.ledger_vnd.unwrap_or(0),
                d.days.unwrap_or(0)
            ),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{} {} {} {}{amounts}",
            d.kind.as_str(),
            d.office.as_deref().unwrap_or("(unknown)"),
            d.item_code.as_deref().unwrap_or("-"),
            d.dossier_code.as_deref().unwrap_or("-"),
        );
    }
    out
}
