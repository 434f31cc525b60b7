//! The month's reconciliation with VNPost (issue 10 §3, "Đối soát"), as plain computation: the
//! ledger's shipments and VNPost's own list of orders in, per office the figures side by side
//! and every difference per shipment out. No I/O and no clock (`now` is given).
//!
//! Which pairs belong to the month: a shipment the ledger created in the (Vietnam) month, with
//! the VNPost order of the same tracking number (or, failing that, of the same `saleOrderCode`);
//! and an order VNPost lists that the ledger does not know, when VNPost created it in the month
//! (or last changed it then, when the list gives no creation date). Shipments the carrier never
//! accepted (no tracking number, no order found) are not expected in VNPost's list.

use super::Status;
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Utc};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// VNPost's status code for "COD paid out to the sender" (SPEC §5).
pub const CODE_COD_PAID: i32 = 21;
/// VNPost's status code for "cancellation fee paid" (SPEC §5).
pub const CODE_CANCEL_FEE: i32 = 29;

fn vn() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("valid offset")
}

/// A Vietnamese calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    first: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a month is written YYYY-MM, e.g. 2026-11")]
pub struct BadMonth;

impl Month {
    pub fn new(year: i32, month: u32) -> Option<Month> {
        NaiveDate::from_ymd_opt(year, month, 1).map(|first| Month { first })
    }

    /// The month `at` falls in, in Vietnam.
    pub fn of(at: DateTime<Utc>) -> Month {
        let d = at.with_timezone(&vn()).date_naive();
        Month::new(d.year(), d.month()).expect("a date's month exists")
    }

    pub fn first_day(self) -> NaiveDate {
        self.first
    }

    pub fn last_day(self) -> NaiveDate {
        self.next()
            .first
            .pred_opt()
            .expect("not the first day ever")
    }

    pub fn next(self) -> Month {
        let (y, m) = match self.first.month() {
            12 => (self.first.year() + 1, 1),
            m => (self.first.year(), m + 1),
        };
        Month::new(y, m).expect("the next month exists")
    }

    /// The first moment of the month, Vietnam time, in UTC.
    pub fn start(self) -> DateTime<Utc> {
        vn().from_local_datetime(&self.first.and_hms_opt(0, 0, 0).expect("midnight"))
            .single()
            .expect("a fixed offset has no gaps")
            .with_timezone(&Utc)
    }

    /// The first moment after the month.
    pub fn end(self) -> DateTime<Utc> {
        self.next().start()
    }

    pub fn contains(self, at: DateTime<Utc>) -> bool {
        (self.start()..self.end()).contains(&at)
    }

    /// "11/2026", as Vietnamese staff write a month.
    pub fn label(self) -> String {
        format!("{:02}/{}", self.first.month(), self.first.year())
    }

    /// The dates whose changes VNPost is asked for: from the month's first day to `today`,
    /// because VNPost lists an order by its last change, which for an order of the month may
    /// come weeks later (the COD payout, a return). `None` for a month that has not begun.
    pub fn pull_range(self, today: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
        (today >= self.first).then_some((self.first, today))
    }
}

impl FromStr for Month {
    type Err = BadMonth;

    fn from_str(s: &str) -> Result<Month, BadMonth> {
        let (y, m) = s.trim().split_once('-').ok_or(BadMonth)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(BadMonth);
        }
        let y: i32 = y.parse().map_err(|_| BadMonth)?;
        let m: u32 = m.parse().map_err(|_| BadMonth)?;
        if !(2000..=2999).contains(&y) {
            return Err(BadMonth);
        }
        Month::new(y, m).ok_or(BadMonth)
    }
}

impl fmt::Display for Month {
    /// `YYYY-MM`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.first.year(), self.first.month())
    }
}

/// A shipment as the ledger has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerShipment {
    pub id: Uuid,
    pub office: String,
    pub dossier_code: String,
    pub sale_order_code: String,
    pub tracking_number: Option<String>,
    pub status: Status,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// Postage VNPost said it charges (`carrier_fee_vnd`), in đồng.
    pub fee_vnd: Option<i64>,
    /// Cash on delivery asked for (`cod_vnd`).
    pub cod_vnd: i64,
    /// Cash on delivery VNPost said it collects (`carrier_cod_vnd`).
    pub carrier_cod_vnd: Option<i64>,
    /// The first report of code 21 (COD paid out), by the carrier's clock.
    pub cod_paid_at: Option<DateTime<Utc>>,
    /// The first report of code 29 (cancellation fee paid).
    pub cancel_fee_at: Option<DateTime<Utc>>,
}

impl LedgerShipment {
    /// The COD the ledger expects VNPost to pay out: what VNPost confirmed, else what was asked.
    fn cod(&self) -> i64 {
        self.carrier_cod_vnd.unwrap_or(self.cod_vnd)
    }
}

/// An order as VNPost lists it (`GetListOrder`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierOrder {
    pub item_code: String,
    pub sale_order_code: Option<String>,
    pub fee_vnd: Option<i64>,
    pub cod_vnd: Option<i64>,
    pub status: Option<i32>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// What a difference is about. The order is the order of the page's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DifferenceKind {
    /// The ledger has the shipment with a tracking number; VNPost's list lacks it.
    MissingAtCarrier,
    /// VNPost lists an order the ledger does not know.
    MissingInLedger,
    /// The postage VNPost lists differs from what the ledger recorded.
    FeeDiffers,
    /// The cash on delivery VNPost lists differs from the ledger's.
    CodDiffers,
    /// Delivered with cash on delivery, and not paid out (21) after the configured days.
    CodNotPaidOut,
}

impl DifferenceKind {
    pub const ALL: [DifferenceKind; 5] = [
        DifferenceKind::MissingAtCarrier,
        DifferenceKind::MissingInLedger,
        DifferenceKind::FeeDiffers,
        DifferenceKind::CodDiffers,
        DifferenceKind::CodNotPaidOut,
    ];

    /// A stable English name (CSV, tests).
    pub fn as_str(self) -> &'static str {
        match self {
            DifferenceKind::MissingAtCarrier => "missing_at_carrier",
            DifferenceKind::MissingInLedger => "missing_in_ledger",
            DifferenceKind::FeeDiffers => "fee_differs",
            DifferenceKind::CodDiffers => "cod_differs",
            DifferenceKind::CodNotPaidOut => "cod_not_paid_out",
        }
    }

    /// The words finance staff read.
    pub fn label(self) -> &'static str {
        match self {
            DifferenceKind::MissingAtCarrier => "Không có trong danh sách của VNPost",
            DifferenceKind::MissingInLedger => "Không có trong sổ của cổng",
            DifferenceKind::FeeDiffers => "Cước phí khác nhau",
            DifferenceKind::CodDiffers => "Tiền thu hộ (COD) khác nhau",
            DifferenceKind::CodNotPaidOut => "Tiền thu hộ chưa được trả",
        }
    }
}

/// One difference, about one shipment or order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub kind: DifferenceKind,
    /// The ledger's office; `None` for an order the ledger does not know.
    pub office: Option<String>,
    pub shipment_id: Option<Uuid>,
    pub dossier_code: Option<String>,
    pub item_code: Option<String>,
    pub sale_order_code: Option<String>,
    /// The amounts compared (fee or COD), in đồng.
    pub ledger_vnd: Option<i64>,
    pub carrier_vnd: Option<i64>,
    /// Days since delivery (COD not paid out).
    pub days: Option<i64>,
}

/// One shipment with cash on delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodLine {
    pub office: String,
    pub shipment_id: Uuid,
    pub dossier_code: String,
    pub item_code: Option<String>,
    pub cod_vnd: i64,
    pub delivered_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    /// Paid out (21) by the ledger's reports or VNPost's list.
    pub paid: bool,
}

/// One order VNPost charged a cancellation fee for (29).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelFeeLine {
    pub office: Option<String>,
    pub shipment_id: Option<Uuid>,
    pub dossier_code: Option<String>,
    pub item_code: String,
    pub fee_vnd: i64,
    pub at: Option<DateTime<Utc>>,
}

/// One office's month (or, with `office` `None`, the orders the ledger does not know).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfficeSummary {
    pub office: Option<String>,
    pub ledger_shipments: i64,
    pub ledger_fee_vnd: i64,
    pub carrier_shipments: i64,
    pub carrier_fee_vnd: i64,
    /// Cash on delivery of the month's shipments.
    pub cod_to_collect_vnd: i64,
    /// Of it, on delivered shipments.
    pub cod_collected_vnd: i64,
    /// Of that, paid out to the department (21).
    pub cod_paid_vnd: i64,
    /// Collected and not paid out.
    pub cod_outstanding_vnd: i64,
    pub cancel_fees: i64,
    pub cancel_fees_vnd: i64,
    pub differences: i64,
}

impl OfficeSummary {
    fn add(&mut self, o: &OfficeSummary) {
        self.ledger_shipments += o.ledger_shipments;
        self.ledger_fee_vnd += o.ledger_fee_vnd;
        self.carrier_shipments += o.carrier_shipments;
        self.carrier_fee_vnd += o.carrier_fee_vnd;
        self.cod_to_collect_vnd += o.cod_to_collect_vnd;
        self.cod_collected_vnd += o.cod_collected_vnd;
        self.cod_paid_vnd += o.cod_paid_vnd;
        self.cod_outstanding_vnd += o.cod_outstanding_vnd;
        self.cancel_fees += o.cancel_fees;
        self.cancel_fees_vnd += o.cancel_fees_vnd;
        self.differences += o.differences;
    }
}

/// The month reconciled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub month: Month,
    /// Per office, by office code; the orders of no known office last.
    pub offices: Vec<OfficeSummary>,
    pub total: OfficeSummary,
    pub cod: Vec<CodLine>,
    pub cancel_fees: Vec<CancelFeeLine>,
    pub differences: Vec<Difference>,
}

impl Report {
    /// The report limited to what `visible` offices show: an office's rows when
    /// `visible(Some(code))`, the orders of no known office when `visible(None)`.
    pub fn only(&self, visible: impl Fn(Option<&str>) -> bool) -> Report {
        let offices: Vec<OfficeSummary> = self
            .offices
            .iter()
            .filter(|o| visible(o.office.as_deref()))
            .cloned()
            .collect();
        let mut total = OfficeSummary::default();
        for o in &offices {
            total.add(o);
        }
        Report {
            month: self.month,
            offices,
            total,
            cod: self
                .cod
                .iter()
                .filter(|c| visible(Some(&c.office)))
                .cloned()
                .collect(),
            cancel_fees: self
                .cancel_fees
                .iter()
                .filter(|c| visible(c.office.as_deref()))
                .cloned()
                .collect(),
            differences: self
                .differences
                .iter()
                .filter(|d| visible(d.office.as_deref()))
                .cloned()
                .collect(),
        }
    }
}

/// Reconciles `month`: `shipments` are the ledger's shipments created in the month and any
/// other the carrier's orders name; `orders` is VNPost's list. A delivered COD not paid out
/// `cod_payout_days` after delivery (as of `now`) is a difference.
pub fn reconcile(
    month: Month,
    shipments: &[LedgerShipment],
    orders: &[CarrierOrder],
    cod_payout_days: u32,
    now: DateTime<Utc>,
) -> Report {
    // Index the carrier's orders; a code listed twice (it changed while the pages were read)
    // counts once, as last changed.
    let mut by_item: HashMap<&str, &CarrierOrder> = HashMap::new();
    for o in orders {
        let keep = by_item
            .get(o.item_code.as_str())
            .is_none_or(|seen| seen.updated_at <= o.updated_at);
        if keep {
            by_item.insert(&o.item_code, o);
        }
    }
    let mut by_sale: HashMap<&str, &CarrierOrder> = HashMap::new();
    for o in by_item.values() {
        if let Some(code) = o.sale_order_code.as_deref() {
            by_sale.entry(code).or_insert(o);
        }
    }

    let mut used: std::collections::HashSet<&str> = Default::default();
    let mut offices: BTreeMap<Option<String>, OfficeSummary> = BTreeMap::new();
    let mut differences = Vec::new();
    let mut cod = Vec::new();
    let mut cancel_fees = Vec::new();
    let payout = chrono::Duration::days(i64::from(cod_payout_days));

    let mut ours: Vec<&LedgerShipment> = shipments.iter().collect();
    ours.sort_by_key(|s| (s.created_at, s.id));
    for s in ours {
        let order = s
            .tracking_number
            .as_deref()
            .and_then(|t| by_item.get(t))
            .or_else(|| by_sale.get(s.sale_order_code.as_str()))
            .copied();
        if let Some(o) = order {
            // Matched: the order is this shipment's, whichever month it belongs to.
            used.insert(&o.item_code);
        }
        if !month.contains(s.created_at) || (s.tracking_number.is_none() && order.is_none()) {
            continue;
        }
        let sum = offices
            .entry(Some(s.office.clone()))
            .or_insert_with(|| OfficeSummary {
                office: Some(s.office.clone()),
                ..Default::default()
            });
        let diff = |kind, ledger_vnd, carrier_vnd, days| Difference {
            kind,
            office: Some(s.office.clone()),
            shipment_id: Some(s.id),
            dossier_code: Some(s.dossier_code.clone()),
            item_code: s
                .tracking_number
                .clone()
                .or_else(|| order.map(|o| o.item_code.clone())),
            sale_order_code: Some(s.sale_order_code.clone()),
            ledger_vnd,
            carrier_vnd,
            days,
        };
        sum.ledger_shipments += 1;
        sum.ledger_fee_vnd += s.fee_vnd.unwrap_or(0);
        match order {
            None => differences.push(diff(
                DifferenceKind::MissingAtCarrier,
                s.fee_vnd,
                None,
                None,
            )),
            Some(o) => {
                sum.carrier_shipments += 1;
                sum.carrier_fee_vnd += o.fee_vnd.unwrap_or(0);
                if s.tracking_number.is_none() {
                    // VNPost has an order the gateway never learnt the tracking number of.
                    differences.push(diff(
                        DifferenceKind::MissingInLedger,
                        s.fee_vnd,
                        o.fee_vnd,
                        None,
                    ));
                }
                if s.fee_vnd != o.fee_vnd {
                    differences.push(diff(DifferenceKind::FeeDiffers, s.fee_vnd, o.fee_vnd, None));
                }
                if let Some(c) = o.cod_vnd.filter(|c| *c != s.cod()) {
                    differences.push(diff(
                        DifferenceKind::CodDiffers,
                        Some(s.cod()),
                        Some(c),
                        None,
                    ));
                }
            }
        }
        let carrier_says = |code: i32| order.filter(|o| o.status == Some(code));
        let cod_vnd = s.cod();
        if cod_vnd > 0 {
            let paid_at = s
                .cod_paid_at
                .or_else(|| carrier_says(CODE_COD_PAID).and_then(|o| o.updated_at));
            let paid = s.cod_paid_at.is_some() || carrier_says(CODE_COD_PAID).is_some();
            let delivered = s.status == Status::Delivered;
            sum.cod_to_collect_vnd += cod_vnd;
            if delivered {
                sum.cod_collected_vnd += cod_vnd;
                if paid {
                    sum.cod_paid_vnd += cod_vnd;
                } else {
                    sum.cod_outstanding_vnd += cod_vnd;
                    if let Some(at) = s.delivered_at.filter(|at| *at + payout <= now) {
                        let days = (now - at).num_days();
                        differences.push(diff(
                            DifferenceKind::CodNotPaidOut,
                            Some(cod_vnd),
                            None,
                            Some(days),
                        ));
                    }
                }
            }
            cod.push(CodLine {
                office: s.office.clone(),
                shipment_id: s.id,
                dossier_code: s.dossier_code.clone(),
                item_code: s.tracking_number.clone(),
                cod_vnd,
                delivered_at: s.delivered_at.filter(|_| delivered),
                paid_at,
                paid,
            });
        }
        if s.cancel_fee_at.is_some() || carrier_says(CODE_CANCEL_FEE).is_some() {
            let fee = order.and_then(|o| o.fee_vnd).or(s.fee_vnd).unwrap_or(0);
            sum.cancel_fees += 1;
            sum.cancel_fees_vnd += fee;
            cancel_fees.push(CancelFeeLine {
                office: Some(s.office.clone()),
                shipment_id: Some(s.id),
                dossier_code: Some(s.dossier_code.clone()),
                item_code: order
                    .map(|o| o.item_code.clone())
                    .or_else(|| s.tracking_number.clone())
                    .unwrap_or_default(),
                fee_vnd: fee,
                at: s
                    .cancel_fee_at
                    .or_else(|| carrier_says(CODE_CANCEL_FEE).and_then(|o| o.updated_at)),
            });
        }
    }

    // Orders the ledger does not know, created (or, undated, last changed) in the month.
    let mut unknown: Vec<&CarrierOrder> = by_item
        .values()
        .filter(|o| !used.contains(o.item_code.as_str()))
        .filter(|o| {
            o.created_at
                .or(o.updated_at)
                .is_some_and(|at| month.contains(at))
        })
        .copied()
        .collect();
    unknown.sort_by(|a, b| (a.created_at, &a.item_code).cmp(&(b.created_at, &b.item_code)));
    for o in unknown {
        let sum = offices.entry(None).or_default();
        sum.carrier_shipments += 1;
        sum.carrier_fee_vnd += o.fee_vnd.unwrap_or(0);
        differences.push(Difference {
            kind: DifferenceKind::MissingInLedger,
            office: None,
            shipment_id: None,
            dossier_code: None,
            item_code: Some(o.item_code.clone()),
            sale_order_code: o.sale_order_code.clone(),
            ledger_vnd: None,
            carrier_vnd: o.fee_vnd,
            days: None,
        });
        if o.status == Some(CODE_CANCEL_FEE) {
            let fee = o.fee_vnd.unwrap_or(0);
            sum.cancel_fees += 1;
            sum.cancel_fees_vnd += fee;
            cancel_fees.push(CancelFeeLine {
                office: None,
                shipment_id: None,
                dossier_code: None,
                item_code: o.item_code.clone(),
                fee_vnd: fee,
                at: o.updated_at,
            });
        }
    }

    for d in &differences {
        if let Some(sum) = offices.get_mut(&d.office) {
            sum.differences += 1;
        }
    }
    // A stable order: by kind, then office, then dossier / item code.
    differences.sort_by(|a, b| {
        (a.kind, &a.office, &a.dossier_code, &a.item_code).cmp(&(
            b.kind,
            &b.office,
            &b.dossier_code,
            &b.item_code,
        ))
    });
    // Known offices by code, then the orders of no known office.
    let mut list: Vec<OfficeSummary> = offices.into_values().collect();
    list.sort_by_key(|o| (o.office.is_none(), o.office.clone()));
    let mut total = OfficeSummary::default();
    for o in &list {
        total.add(o);
    }
    Report {
        month,
        offices: list,
        total,
        cod,
        cancel_fees,
        differences,
    }
}

/// Who started a pull of the month (column `reconcile_runs.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunSource {
    /// `bcci-gateway reconcile` at the command line.
    CommandLine,
    /// A staff member's button on the console page.
    Console,
}

impl RunSource {
    pub const ALL: [RunSource; 2] = [RunSource::CommandLine, RunSource::Console];

    pub fn as_str(self) -> &'static str {
        match self {
            RunSource::CommandLine => "cli",
            RunSource::Console => "console",
        }
    }
}

super::status::text_names!(RunSource);

#[cfg(test)]
mod tests {
    use super::*;
    use DifferenceKind::*;

    fn nov() -> Month {
        "2026-11".parse().unwrap()
    }

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        vn().with_ymd_and_hms(2026, 11, day, hour, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn now() -> DateTime<Utc> {
        vn().with_ymd_and_hms(2026, 12, 5, 12, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn shipment(n: u128, office: &str, fee: i64, cod: i64) -> LedgerShipment {
        LedgerShipment {
            id: Uuid::from_u128(n),
            office: office.into(),
            dossier_code: format!("HS-{n:03}"),
            sale_order_code: format!("BCCI-{n:03}"),
            tracking_number: Some(format!("EB{n:09}VN")),
            status: Status::Delivered,
            created_at: at(10, 9),
            delivered_at: Some(at(12, 15)),
            fee_vnd: Some(fee),
            cod_vnd: cod,
            carrier_cod_vnd: Some(cod),
            cod_paid_at: (cod > 0).then(|| at(20, 10)),
            cancel_fee_at: None,
        }
    }

    fn order_of(s: &LedgerShipment) -> CarrierOrder {
        CarrierOrder {
            item_code: s.tracking_number.clone().unwrap(),
            sale_order_code: Some(s.sale_order_code.clone()),
            fee_vnd: s.fee_vnd,
            cod_vnd: Some(s.cod_vnd),
            status: Some(14),
            created_at: Some(s.created_at),
            updated_at: Some(at(12, 15)),
        }
    }

    fn kinds(r: &Report) -> Vec<(DifferenceKind, Option<String>)> {
        r.differences
            .iter()
            .map(|d| (d.kind, d.item_code.clone()))
            .collect()
    }

    fn clean() -> (Vec<LedgerShipment>, Vec<CarrierOrder>) {
        let ships = vec![
            shipment(1, "A", 16500, 30000),
            shipment(2, "A", 22000, 0),
            shipment(3, "B", 18000, 50000),
        ];
        let orders = ships.iter().map(order_of).collect();
        (ships, orders)
    }

    #[test]
    fn months_parse_and_bound_the_vietnam_calendar() {
        let m = nov();
        assert_eq!(m.to_string(), "2026-11");
        assert_eq!(m.label(), "11/2026");
        assert_eq!(m.last_day(), NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
        // 00:00 on 1 November in Vietnam is 17:00 on 31 October UTC.
        assert_eq!(m.start().to_rfc3339(), "2026-10-31T17:00:00+00:00");
        assert_eq!(m.end().to_rfc3339(), "2026-11-30T17:00:00+00:00");
        assert!(m.contains(m.start()));
        assert!(!m.contains(m.end()));
        assert_eq!(Month::of(m.end()), "2026-12".parse().unwrap());
        assert_eq!(
            "2026-12".parse::<Month>().unwrap().next().to_string(),
            "2027-01"
        );
        for bad in [
            "2026-13", "2026-1", "26-11", "2026/11", "", "2026-00", "abcd-11",
        ] {
            assert_eq!(bad.parse::<Month>(), Err(BadMonth), "{bad}");
        }
    }

    #[test]
    fn the_pull_covers_the_month_up_to_today() {
        let m = nov();
        let d = |y, mo, d| NaiveDate::from_ymd_opt(y, mo, d).unwrap();
        assert_eq!(m.pull_range(d(2026, 10, 31)), None);
        assert_eq!(
            m.pull_range(d(2026, 11, 1)),
            Some((d(2026, 11, 1), d(2026, 11, 1)))
        );
        assert_eq!(
            m.pull_range(d(2026, 11, 15)),
            Some((d(2026, 11, 1), d(2026, 11, 15)))
        );
        // Later changes (a COD paid out in December) are asked for too.
        assert_eq!(
            m.pull_range(d(2027, 1, 3)),
            Some((d(2026, 11, 1), d(2027, 1, 3)))
        );
    }

    #[test]
    fn a_clean_month_has_no_difference_and_the_figures_add_up() {
        let (ships, orders) = clean();
        let r = reconcile(nov(), &ships, &orders, 7, now());
        assert_eq!(kinds(&r), vec![]);
        assert_eq!(r.offices.len(), 2);
        let a = &r.offices[0];
        assert_eq!(a.office.as_deref(), Some("A"));
        assert_eq!((a.ledger_shipments, a.carrier_shipments), (2, 2));
        assert_eq!((a.ledger_fee_vnd, a.carrier_fee_vnd), (38500, 38500));
        assert_eq!(a.cod_to_collect_vnd, 30000);
        assert_eq!(a.cod_collected_vnd, 30000);
        assert_eq!(a.cod_paid_vnd, 30000);
        assert_eq!(a.cod_outstanding_vnd, 0);
        assert_eq!(r.total.ledger_fee_vnd, 56500);
        assert_eq!(r.total.cod_paid_vnd, 80000);
        assert_eq!(r.cod.len(), 2);
        assert!(r.cancel_fees.is_empty());
    }

    #[test]
    fn each_kind_of_difference_is_found_and_nothing_else() {
        let (mut ships, mut orders) = clean();
        // 1: VNPost charges more than it said.
        orders[0].fee_vnd = Some(19000);
        // 2: not in VNPost's list.
        orders.remove(1);
        // 3: COD delivered and not paid out after 7 days.
        ships[2].cod_paid_at = None;
        // An order the ledger does not know, created in November.
        orders.push(CarrierOrder {
            item_code: "EB999999999VN".into(),
            sale_order_code: Some("OTHER-1".into()),
            fee_vnd: Some(12000),
            cod_vnd: Some(0),
            status: Some(6),
            created_at: Some(at(15, 8)),
            updated_at: Some(at(15, 9)),
        });
        let r = reconcile(nov(), &ships, &orders, 7, now());
        assert_eq!(
            kinds(&r),
            vec![
                (MissingAtCarrier, Some("EB000000002VN".into())),
                (MissingInLedger, Some("EB999999999VN".into())),
                (FeeDiffers, Some("EB000000001VN".into())),
                (CodNotPaidOut, Some("EB000000003VN".into())),
            ]
        );
        let fee = &r.differences[2];
        assert_eq!(
            (fee.ledger_vnd, fee.carrier_vnd),
            (Some(16500), Some(19000))
        );
        assert_eq!(fee.shipment_id, Some(Uuid::from_u128(1)));
        let late = &r.differences[3];
        assert_eq!(late.days, Some(22));
        assert_eq!(late.ledger_vnd, Some(50000));
        let unknown = r.offices.last().unwrap();
        assert_eq!(unknown.office, None);
        assert_eq!(
            (unknown.carrier_shipments, unknown.carrier_fee_vnd),
            (1, 12000)
        );
        let b = &r.offices[1];
        assert_eq!(
            (b.cod_collected_vnd, b.cod_paid_vnd, b.cod_outstanding_vnd),
            (50000, 0, 50000)
        );
        assert_eq!(r.total.differences, 4);
        assert_eq!(r.total.ledger_shipments, 3);
        assert_eq!(r.total.carrier_shipments, 3);
    }

    #[test]
    fn cod_is_late_only_after_the_configured_days() {
        let (mut ships, orders) = clean();
        ships[0].cod_paid_at = None;
        let delivered = ships[0].delivered_at.unwrap();
        let day = chrono::Duration::days(1);
        let r = reconcile(
            nov(),
            &ships,
            &orders,
            7,
            delivered + day * 7 - chrono::Duration::seconds(1),
        );
        assert_eq!(kinds(&r), vec![]);
        assert_eq!(r.total.cod_outstanding_vnd, 30000);
        let r = reconcile(nov(), &ships, &orders, 7, delivered + day * 7);
        assert_eq!(
            kinds(&r),
            vec![(CodNotPaidOut, Some("EB000000001VN".into()))]
        );
        // Not delivered: nothing collected, nothing late.
        ships[0].status = Status::OutForDelivery;
        let r = reconcile(nov(), &ships, &orders, 0, now());
        assert_eq!(kinds(&r), vec![]);
        assert_eq!(
            (r.total.cod_to_collect_vnd, r.total.cod_collected_vnd),
            (80000, 50000)
        );
    }

    #[test]
    fn vnposts_code_21_in_the_list_counts_as_paid_out() {
        let (mut ships, mut orders) = clean();
        ships[0].cod_paid_at = None;
        orders[0].status = Some(CODE_COD_PAID);
        orders[0].updated_at = Some(at(25, 8));
        let r = reconcile(nov(), &ships, &orders, 7, now());
        assert_eq!(kinds(&r), vec![]);
        let line = r
            .cod
            .iter()
            .find(|c| c.shipment_id == Uuid::from_u128(1))
            .unwrap();
        assert!(line.paid);
        assert_eq!(line.paid_at, Some(at(25, 8)));
    }

    #[test]
    fn cancellation_fees_come_from_reports_or_the_list() {
        let (mut ships, mut orders) = clean();
        ships[1].status = Status::Cancelled;
        ships[1].delivered_at = None;
        ships[1].cancel_fee_at = Some(at(11, 10));
        orders[2].status = Some(CODE_CANCEL_FEE);
        ships[2].status = Status::Cancelled;
        ships[2].cod_paid_at = None;
        let r = reconcile(nov(), &ships, &orders, 7, now());
        assert_eq!(kinds(&r), vec![]);
        assert_eq!(r.cancel_fees.len(), 2);
        assert_eq!(r.total.cancel_fees, 2);
        assert_eq!(r.total.cancel_fees_vnd, 22000 + 18000);
        assert_eq!(r.cancel_fees[0].at, Some(at(11, 10)));
    }

    #[test]
    fn cod_and_fee_differences_compare_what_vnpost_confirmed() {
        let (mut ships, mut orders) = clean();
        orders[0].cod_vnd = Some(25000);
        // The ledger never heard the fee.
        ships[1].fee_vnd = None;
        let r = reconcile(nov(), &ships, &orders, 7, now());
        assert_eq!(
            kinds(&r),
            vec![
                (FeeDiffers, Some("EB000000002VN".into())),
                (CodDiffers, Some("EB000000001VN".into())),
            ]
        );
        assert_eq!(r.differences[1].ledger_vnd, Some(30000));
        assert_eq!(r.differences[1].carrier_vnd, Some(25000));
    }

    #[test]
    fn orders_are_matched_by_sale_order_code_when_the_tracking_number_is_unknown() {
        let (mut ships, orders) = clean();
        // The answer of CreateOrder was lost: the ledger has no tracking number.
        ships[1].tracking_number = None;
        let r = reconcile(nov(), &ships, &orders, 7, now());
        assert_eq!(
            kinds(&r),
            vec![(MissingInLedger, Some("EB000000002VN".into()))]
        );
        assert_eq!(r.differences[0].shipment_id, Some(Uuid::from_u128(2)));
        // Without an order at VNPost either, the shipment was never accepted: not expected.
        let r = reconcile(
            nov(),
            &ships,
            &orders[..1]
                .iter()
                .chain(&orders[2..])
                .cloned()
                .collect::<Vec<_>>(),
            7,
            now(),
        );
        assert_eq!(kinds(&r), vec![]);
        assert_eq!(r.total.ledger_shipments, 2);
    }

    #[test]
    fn other_months_are_left_out_on_both_sides() {
        let (mut ships, mut orders) = clean();
        // Created on 1 December at 00:30 Vietnam time (still 30 November in UTC).
        ships[0].created_at = vn()
            .with_ymd_and_hms(2026, 12, 1, 0, 30, 0)
            .unwrap()
            .with_timezone(&Utc);
        // An unknown order of October, listed because it changed in November.
        orders.push(CarrierOrder {
            item_code: "EB888888888VN".into(),
            sale_order_code: None,
            fee_vnd: Some(1),
            cod_vnd: None,
            status: Some(19),
            created_at: Some(
                vn().with_ymd_and_hms(2026, 10, 31, 23, 0, 0)
                    .unwrap()
                    .with_timezone(&Utc),
            ),
            updated_at: Some(at(2, 8)),
        });
        let r = reconcile(nov(), &ships, &orders, 7, now());
        assert_eq!(kinds(&r), vec![]);
        assert_eq!(r.total.ledger_shipments, 2);
        assert_eq!(r.total.carrier_shipments, 2);
    }

    #[test]
    fn an_order_listed_twice_counts_once() {
        let (ships, mut orders) = clean();
        let mut newer = orders[0].clone();
        newer.updated_at = Some(at(28, 8));
        orders.push(newer);
        let r = reconcile(nov(), &ships, &orders, 7, now());
        assert_eq!(kinds(&r), vec![]);
        assert_eq!(r.total.carrier_shipments, 3);
    }

    #[test]
    fn a_report_limited_to_offices_adds_up_again() {
        let (ships, mut orders) = clean();
        orders.remove(0);
        orders.push(CarrierOrder {
            item_code: "EB999999999VN".into(),
            sale_order_code: None,
            fee_vnd: Some(12000),
            cod_vnd: None,
            status: Some(6),
            created_at: Some(at(15, 8)),
            updated_at: None,
        });
        let r = reconcile(nov(), &ships, &orders, 7, now());
        let b = r.only(|o| o == Some("B"));
        assert_eq!(b.offices.len(), 1);
        assert_eq!(b.total.ledger_shipments, 1);
        assert!(b.differences.is_empty());
        assert_eq!(b.cod.len(), 1);
        let a = r.only(|o| o == Some("A"));
        assert_eq!(
            kinds(&a),
            vec![(MissingAtCarrier, Some("EB000000001VN".into()))]
        );
        assert_eq!(r.only(|_| true), r);
    }

    #[test]
    fn every_kind_has_words_and_a_stable_name() {
        let names: std::collections::HashSet<_> =
            DifferenceKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), DifferenceKind::ALL.len());
        for k in DifferenceKind::ALL {
            assert!(!k.label().is_empty());
        }
    }
}
