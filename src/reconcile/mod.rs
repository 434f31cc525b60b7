//! The month's reconciliation with VNPost (issue 10 §3, "Đối soát"): pull VNPost's own list of
//! the month's orders, store its figures beside the ledger's, and reconcile the two.
//!
//! Used by `bcci-gateway reconcile --month YYYY-MM` and by the console's "Đối soát" page. The
//! arithmetic is `domain::reconcile`; storage `ledger::reconcile`; the workbook and CSV
//! `export`.

pub mod cli;
pub mod export;

use crate::carrier::list::ListedOrder;
use crate::carrier::{CarrierError, VnPost, vntime};
use crate::config::Config;
use crate::domain::AuditAction;
use crate::domain::reconcile::{self, Month, Report, RunSource};
use crate::ledger::models::NewAuditEntry;
use crate::ledger::reconcile::{self as store, NewRun, StoredOrder};
use crate::ledger::{Conn, Pool};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};

/// Who started a pull.
#[derive(Debug, Clone)]
pub struct Starter {
    pub id: String,
    pub name: Option<String>,
    /// A staff member through the console (audited), else the command line.
    pub staff: bool,
}

impl Starter {
    /// The operator at the command line (`$USER`, else "cli").
    pub fn command_line() -> Starter {
        Starter {
            id: std::env::var("USER")
                .ok()
                .filter(|u| !u.is_empty())
                .map(|u| format!("cli:{u}"))
                .unwrap_or_else(|| "cli".into()),
            name: None,
            staff: false,
        }
    }
}

/// What a pull did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    pub run_id: i64,
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    /// Orders VNPost listed for the dates.
    pub listed: usize,
    /// Of them, the month's (kept).
    pub kept: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("the month {0} has not begun")]
    NotBegun(Month),
    #[error(transparent)]
    Carrier(#[from] CarrierError),
    #[error("ledger: {0}")]
    Ledger(#[from] diesel::result::Error),
    #[error("ledger: {0}")]
    Pool(String),
}

impl PullError {
    /// The words staff read on the page.
    pub fn words(&self) -> String {
        use crate::carrier::ErrorClass;
        match self {
            PullError::NotBegun(m) => format!("Tháng {} chưa bắt đầu: chưa có gì để đối soát.", m.label()),
            PullError::Carrier(e) => match e.class {
                ErrorClass::Refused => format!("VNPost từ chối trả danh sách đơn: {}", e.message),
                ErrorClass::Auth => "VNPost không chấp nhận tài khoản kết nối của cổng. Kiểm tra cấu hình [carrier] (username, password, customer_code).".into(),
                ErrorClass::Protocol => "VNPost trả về danh sách đơn không đọc được. Xin thử lại sau; nếu vẫn lỗi, báo bộ phận kỹ thuật.".into(),
                _ => "Không kết nối được VNPost để lấy danh sách đơn. Xin thử lại sau ít phút.".into(),
            },
            PullError::Ledger(_) | PullError::Pool(_) => {
                "Không ghi được số liệu vào sổ của cổng. Xin thử lại sau ít phút.".into()
            }
        }
    }
}

/// Keeps the orders of `month`: created in it by VNPost's clock (last changed in it, when the
/// list gives no creation date), or carrying the code of a ledger shipment of the month.
fn of_month(month: Month, listed: Vec<ListedOrder>, ours: &HashSet<String>) -> Vec<ListedOrder> {
    let mut by_item: HashMap<String, ListedOrder> = HashMap::new();
    for o in listed {
        let mine = ours.contains(&o.item_code)
            || o.sale_order_code.as_ref().is_some_and(|c| ours.contains(c));
        let dated = o
            .created_at
            .or(o.updated_at)
            .is_some_and(|at| month.contains(at));
        if !(mine || dated) {
            continue;
        }
        // An order listed twice (it changed while the pages were read): its last state.
        match by_item.get(&o.item_code) {
            Some(seen) if seen.updated_at > o.updated_at => {}
            _ => {
                by_item.insert(o.item_code.clone(), o);
            }
        }
    }
    let mut kept: Vec<ListedOrder> = by_item.into_values().collect();
    kept.sort_by(|a, b| a.item_code.cmp(&b.item_code));
    kept
}

/// Pulls VNPost's list for `month` and replaces the month's stored figures with it.
pub async fn pull(
    pool: &Pool,
    carrier: &VnPost,
    month: Month,
    who: &Starter,
    now: DateTime<Utc>,
) -> Result<Pulled, PullError> {
    let today = vntime::local(now).date_naive();
    let (from, to) = month.pull_range(today).ok_or(PullError::NotBegun(month))?;
    let listed = carrier.list_orders(from, to).await?;
    let listed_n = listed.len();
    let mut conn = pool
        .get()
        .await
        .map_err(|e| PullError::Pool(e.to_string()))?;
    let ours: HashSet<String> = store::ledger_side(&mut conn, month, &[], &[])
        .await?
        .into_iter()
        .filter(|s| month.contains(s.created_at))
        .flat_map(|s| [Some(s.sale_order_code), s.tracking_number])
        .flatten()
        .collect();
    let kept = of_month(month, listed, &ours);
    let items: Vec<String> = kept.iter().map(|o| o.item_code.clone()).collect();
    let sales: Vec<String> = kept
        .iter()
        .filter_map(|o| o.sale_order_code.clone())
        .collect();
    let (office_by_item, office_by_sale) = store::offices_of(&mut conn, &items, &sales).await?;
    let rows: Vec<StoredOrder> = kept
        .into_iter()
        .map(|o| StoredOrder {
            month: month.first_day(),
            office_code: office_by_item
                .get(&o.item_code)
                .or_else(|| {
                    o.sale_order_code
                        .as_ref()
                        .and_then(|c| office_by_sale.get(c))
                })
                .cloned(),
            item_code: o.item_code,
            run_id: 0,
            sale_order_code: o.sale_order_code,
            original_id: o.original_id,
            fee_vnd: o.total_fee,
            cod_vnd: o.cod_amount,
            carrier_status: o.status,
            carrier_status_text: o.status_name,
            carrier_created_at: o.created_at,
            carrier_updated_at: o.updated_at,
            fetched_at: now,
        })
        .collect();
    let kept_n = rows.len();
    let audit = who.staff.then(|| NewAuditEntry {
        actor_id: who.id.clone(),
        actor_name: who.name.clone(),
        action: AuditAction::Reconcile,
        shipment_id: None,
        reason: format!("Đối soát với VNPost tháng {}", month.label()),
        details: serde_json::json!({
            "month": month.to_string(),
            "listed": listed_n,
            "kept": kept_n,
        }),
    });
    let run = NewRun {
        month: month.first_day(),
        started_by: who.id.clone(),
        started_by_name: who.name.clone(),
        source: if who.staff {
            RunSource::Console
        } else {
            RunSource::CommandLine
        },
        started_at: now,
        date_from: from,
        date_to: to,
        listed: i32::try_from(listed_n).unwrap_or(i32::MAX),
        kept: i32::try_from(kept_n).unwrap_or(i32::MAX),
    };
    let run_id = store::replace_month(&mut conn, run, rows, audit).await?;
    tracing::info!(month = %month, run_id, listed = listed_n, kept = kept_n, "reconciliation pull stored");
    Ok(Pulled {
        run_id,
        from,
        to,
        listed: listed_n,
        kept: kept_n,
    })
}

/// The month reconciled from what is stored: the last pull's figures beside the ledger's.
/// `None` when the month was never pulled.
pub async fn report(
    conn: &mut Conn,
    config: &Config,
    month: Month,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Option<(store::Run, Report)>> {
    let Some(run) = store::last_run(conn, month).await? else {
        return Ok(None);
    };
    let stored = store::carrier_orders(conn, month).await?;
    let items: Vec<String> = stored.iter().map(|o| o.item_code.clone()).collect();
    let sales: Vec<String> = stored
        .iter()
        .filter_map(|o| o.sale_order_code.clone())
        .collect();
    let ours = store::ledger_side(conn, month, &items, &sales).await?;
    let orders: Vec<_> = stored.iter().map(StoredOrder::to_domain).collect();
    let report = reconcile::reconcile(month, &ours, &orders, config.reconcile.cod_payout_days, now);
    Ok(Some((run, report)))
}

/// Office code → name, from the configuration.
pub fn office_names(config: &Config) -> HashMap<String, String> {
    config
        .offices
        .iter()
        .map(|o| (o.code.clone(), o.name.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn order(
        item: &str,
        sale: Option<&str>,
        created: Option<(u32, u32)>,
        updated: (u32, u32),
    ) -> ListedOrder {
        let vn = |(m, d): (u32, u32)| {
            chrono::FixedOffset::east_opt(7 * 3600)
                .unwrap()
                .with_ymd_and_hms(2026, m, d, 8, 0, 0)
                .unwrap()
                .with_timezone(&Utc)
        };
        ListedOrder {
            item_code: item.into(),
            sale_order_code: sale.map(Into::into),
            original_id: None,
            status: Some(14),
            status_name: None,
            total_fee: Some(1),
            cod_amount: None,
            created_at: created.map(vn),
            updated_at: Some(vn(updated)),
        }
    }

    #[test]
    fn the_month_keeps_its_own_orders_and_ours() {
        let nov: Month = "2026-11".parse().unwrap();
        let ours: HashSet<String> = ["BCCI-7".to_owned()].into();
        let kept = of_month(
            nov,
            vec![
                order("A", None, Some((11, 3)), (12, 2)),
                // Created in October, changed in November: another month's.
                order("B", None, Some((10, 30)), (11, 2)),
                // Created in December: another month's, unless it is ours.
                order("C", None, Some((12, 1)), (12, 1)),
                order("D", Some("BCCI-7"), Some((12, 1)), (12, 1)),
                // No creation date: by its last change.
                order("E", None, None, (11, 20)),
                order("F", None, None, (12, 20)),
                // Listed twice: the later state.
                order("A", None, Some((11, 3)), (12, 5)),
            ],
            &ours,
        );
        let codes: Vec<&str> = kept.iter().map(|o| o.item_code.as_str()).collect();
        assert_eq!(codes, ["A", "D", "E"]);
        assert_eq!(
            kept[0].updated_at.unwrap().to_rfc3339(),
            "2026-12-05T01:00:00+00:00"
        );
    }
}
