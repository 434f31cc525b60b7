//! The sandbox's orders and how they move: a realistic journey through VNPost's status codes,
//! one step at a time, with chance-driven failed attempts and returns.
//!
//! Plain data and functions (the randomness is passed in), so the journeys are unit-tested.

use super::Faults;
use crate::carrier::push::PushRecord;
use crate::carrier::vntime;
use chrono::{DateTime, SubsecRound, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Codes after which an order no longer moves: cancelled, delivered, returned.
const FINAL: [i32; 3] = [9, 14, 19];

/// The carrier's name of each code the sandbox uses.
pub fn status_name(code: i32) -> &'static str {
    match code {
        1 => "Tạo mới",
        2 => "Đã phân công bưu tá nhận",
        4 => "Đang nhận hàng",
        5 => "Nhận hàng không thành công",
        6 => "Đã nhận hàng",
        7 => "Đã đến bưu cục",
        9 => "Hủy nhận hàng",
        10 => "Đang vận chuyển",
        11 => "Đã đến bưu cục phát",
        12 => "Đang phát hàng",
        14 => "Phát thành công",
        15 => "Phát không thành công",
        16 => "Chờ chuyển hoàn",
        18 => "Đang chuyển hoàn",
        19 => "Đã chuyển hoàn",
        _ => "Không xác định",
    }
}

/// One status-history entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub code: i32,
    pub name: String,
    pub note: String,
    pub at: DateTime<Utc>,
}

/// An order as the sandbox keeps it. No names, phones or addresses: the sandbox validates
/// them and forgets them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub sale_order_code: String,
    pub item_code: String,
    #[serde(rename = "originalID")]
    pub original_id: String,
    #[serde(rename = "orderHdrID")]
    pub order_hdr_id: String,
    pub service_code: String,
    pub total_fee: i64,
    /// The current status code (the last of `history`).
    pub status: i32,
    pub history: Vec<Step>,
    #[serde(skip)]
    failed_pickup: bool,
    #[serde(skip)]
    failed_delivery: bool,
    #[serde(skip)]
    returning: bool,
}

impl Order {
    pub fn is_final(&self) -> bool {
        FINAL.contains(&self.status)
    }

    /// Cancellation is possible until the item is collected (code 6).
    pub fn cancellable(&self) -> bool {
        matches!(self.status, 1..=5)
    }

    pub fn updated_at(&self) -> DateTime<Utc> {
        self.history
            .last()
            .map(|s| s.at)
            .expect("an order has at least its creation step")
    }

    /// Appends `code`. Times are whole seconds (the carrier's format) and strictly increase
    /// within an order, so that reports keep their order even when steps come faster than
    /// one a second (the accelerated clock, or explicit advances in tests).
    fn record(&mut self, code: i32, note: &str, now: DateTime<Utc>) -> PushRecord {
        let mut at = now.trunc_subsecs(0);
        if let Some(last) = self.history.last() {
            at = at.max(last.at + chrono::Duration::seconds(1));
        }
        self.status = code;
        self.history.push(Step {
            code,
            name: status_name(code).to_owned(),
            note: note.to_owned(),
            at,
        });
        PushRecord {
            sale_order_code: Some(self.sale_order_code.clone()),
            status_name: Some(status_name(code).to_owned()),
            status_date: Some(vntime::format_date_time(at)),
            ..PushRecord::new(self.item_code.clone(), code)
        }
    }

    /// The next code of the journey, or `None` at the end.
    ///
    /// 1 → 2 → 4 → (5 →) 6 → 7 → 10 → 11 → 12 → (15 → 12 →) 14, or at 12 the return
    /// 15 → 16 → 18 → 19. A failed attempt happens at most once at pickup and once at delivery.
    fn next(&mut self, faults: &Faults, rng: &mut impl Rng) -> Option<(i32, &'static str)> {
        Some(match self.status {
            1 => (2, ""),
            2 => (4, ""),
            4 if !self.failed_pickup && faults.failed_attempt_chance.roll(rng) => {
                self.failed_pickup = true;
                (5, "Không liên hệ được người gửi")
            }
            4 | 5 => (6, ""),
            6 => (7, ""),
            7 => (10, ""),
            10 => (11, ""),
            11 => (12, ""),
            12 if faults.return_chance.roll(rng) => {
                self.returning = true;
                (15, "Người nhận từ chối nhận")
            }
            12 if !self.failed_delivery && faults.failed_attempt_chance.roll(rng) => {
                self.failed_delivery = true;
                (15, "Người nhận vắng nhà")
            }
            12 => (14, ""),
            15 if self.returning => (16, ""),
            15 => (12, "Phát lại"),
            16 => (18, ""),
            18 => (19, ""),
            _ => return None,
        })
    }
}

/// What `CreateOrder` records.
pub struct NewOrder {
    pub sale_order_code: String,
    pub service_code: String,
    pub weight_grams: u32,
    pub cod_vnd: i64,
}

/// All orders, with the indexes the carrier API looks them up by.
#[derive(Default)]
pub struct Book {
    orders: Vec<Order>,
    by_item: HashMap<String, usize>,
    by_original: HashMap<String, usize>,
    by_sale: HashMap<String, Vec<usize>>,
    /// Numbering: random per run, so that two runs do not hand out the same item codes.
    first_serial: u32,
}

impl Book {
    pub fn new(rng: &mut impl Rng) -> Self {
        Book {
            first_serial: rng.random_range(10_000_000..80_000_000),
            ..Book::default()
        }
    }

    pub fn len(&self) -> usize {
        self.orders.len()
    }

    pub fn all(&self) -> &[Order] {
        &self.orders
    }

    /// Creates an order (never deduplicated: that is the gateway's job, SPEC §5).
    pub fn create(&mut self, new: NewOrder, now: DateTime<Utc>) -> (&Order, PushRecord) {
        let n = self.orders.len();
        let serial = self.first_serial + n as u32;
        let mut order = Order {
            item_code: item_code("EB", serial),
            original_id: uuid::Uuid::now_v7().to_string(),
            order_hdr_id: serial.to_string(),
            total_fee: fee(&new.service_code, new.weight_grams, new.cod_vnd),
            sale_order_code: new.sale_order_code,
            service_code: new.service_code,
            status: 0,
            history: Vec::new(),
            failed_pickup: false,
            failed_delivery: false,
            returning: false,
        };
        let push = order.record(1, "", now);
        self.by_item.insert(order.item_code.clone(), n);
        self.by_original.insert(order.original_id.clone(), n);
        self.by_sale
            .entry(order.sale_order_code.clone())
            .or_default()
            .push(n);
        self.orders.push(order);
        (&self.orders[n], push)
    }

    pub fn by_item(&self, item_code: &str) -> Option<&Order> {
        self.by_item.get(item_code).map(|&i| &self.orders[i])
    }

    pub fn by_original(&self, original_id: &str) -> Option<&Order> {
        self.by_original.get(original_id).map(|&i| &self.orders[i])
    }

    pub fn by_sale(&self, sale_order_code: &str) -> impl Iterator<Item = &Order> {
        self.by_sale
            .get(sale_order_code)
            .into_iter()
            .flatten()
            .map(|&i| &self.orders[i])
    }

    /// Moves every live order one step.
    pub fn advance(
        &mut self,
        faults: &Faults,
        rng: &mut impl Rng,
        now: DateTime<Utc>,
    ) -> Vec<PushRecord> {
        let mut pushes = Vec::new();
        for order in &mut self.orders {
            if let Some((code, note)) = order.next(faults, rng) {
                pushes.push(order.record(code, note, now));
            }
        }
        pushes
    }

    /// Cancels an order not yet collected: `Ok(Some(push))` when cancelled now, `Ok(None)`
    /// when it was already cancelled, `Err` when it cannot be (unknown, or too late).
    pub fn cancel(
        &mut self,
        original_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PushRecord>, CancelRefusal> {
        let &i = self
            .by_original
            .get(original_id)
            .ok_or(CancelRefusal::Unknown)?;
        let order = &mut self.orders[i];
        match order.status {
            9 => Ok(None),
            _ if order.cancellable() => Ok(Some(order.record(9, "Khách hàng hủy đơn", now))),
            _ => Err(CancelRefusal::TooLate),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelRefusal {
    Unknown,
    TooLate,
}

/// A UPU S10 item identifier: service indicator, 8-digit serial, check digit, country.
fn item_code(prefix: &str, serial: u32) -> String {
    let serial = serial % 100_000_000;
    let digits: Vec<u32> = format!("{serial:08}")
        .bytes()
        .map(|b| u32::from(b - b'0'))
        .collect();
    let sum: u32 = digits
        .iter()
        .zip([8, 6, 4, 2, 3, 5, 9, 7])
        .map(|(d, w)| d * w)
        .sum();
    let check = match 11 - sum % 11 {
        10 => 0,
        11 => 5,
        c => c,
    };
    format!("{prefix}{serial:08}{check}VN")
}

/// A plausible postage: a base price per service for the first 500 g, a supplement per further
/// 500 g, and a flat collection fee with cash on delivery.
fn fee(service_code: &str, weight_grams: u32, cod_vnd: i64) -> i64 {
    let (base, per_500g) = match service_code {
        "ETN013" => (30_000, 5_000),
        "ETN011" => (22_000, 3_500),
        _ => (16_500, 2_500),
    };
    let extra = i64::from(weight_grams.saturating_sub(1) / 500);
    base + extra * per_500g + if cod_vnd > 0 { 13_000 } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carrier::sandbox::{Chance, SandboxConfig};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn faults(failed: f64, ret: f64) -> Faults {
        let mut f = Faults::from(&SandboxConfig::default());
        f.failed_attempt_chance = Chance::new(failed).unwrap();
        f.return_chance = Chance::new(ret).unwrap();
        f
    }

    fn journey(f: &Faults) -> Vec<i32> {
        let mut rng = StdRng::seed_from_u64(7);
        let mut book = Book::new(&mut rng);
        let now = Utc::now();
        let new = NewOrder {
            sale_order_code: "S1".into(),
            service_code: "CTN001".into(),
            weight_grams: 500,
            cod_vnd: 0,
        };
        book.create(new, now);
        for _ in 0..30 {
            book.advance(f, &mut rng, now);
        }
        book.all()[0].history.iter().map(|s| s.code).collect()
    }

    #[test]
    fn the_plain_journey() {
        assert_eq!(journey(&faults(0.0, 0.0)), [1, 2, 4, 6, 7, 10, 11, 12, 14]);
    }

    #[test]
    fn failed_attempts_then_success() {
        assert_eq!(
            journey(&faults(1.0, 0.0)),
            [1, 2, 4, 5, 6, 7, 10, 11, 12, 15, 12, 14]
        );
    }

    #[test]
    fn the_return_journey() {
        assert_eq!(
            journey(&faults(0.0, 1.0)),
            [1, 2, 4, 6, 7, 10, 11, 12, 15, 16, 18, 19]
        );
    }

    #[test]
    fn every_code_used_is_in_the_spec_table() {
        use crate::domain::carrier_codes::{CodeMeaning, meaning};
        for code in [1, 2, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 16, 18, 19] {
            assert!(matches!(meaning(code), CodeMeaning::Status(_)), "{code}");
            assert_ne!(status_name(code), status_name(-1), "{code}");
        }
    }

    #[test]
    fn times_strictly_increase_in_whole_seconds() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut book = Book::new(&mut rng);
        let now = Utc::now();
        let new = NewOrder {
            sale_order_code: "S1".into(),
            service_code: "CTN001".into(),
            weight_grams: 500,
            cod_vnd: 0,
        };
        book.create(new, now);
        let pushes: Vec<_> = (0..5)
            .flat_map(|_| book.advance(&faults(0.0, 0.0), &mut rng, now))
            .collect();
        let h = &book.all()[0].history;
        assert!(h.windows(2).all(|w| w[1].at > w[0].at));
        assert!(h.iter().all(|s| s.at.timestamp_subsec_nanos() == 0));
        assert_eq!(
            pushes.last().unwrap().status_date,
            Some(vntime::format_date_time(h.last().unwrap().at))
        );
    }

    #[test]
    fn no_deduplication_and_cancel_rules() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut book = Book::new(&mut rng);
        let now = Utc::now();
        let new = || NewOrder {
            sale_order_code: "SAME".into(),
            service_code: "CTN001".into(),
            weight_grams: 500,
            cod_vnd: 0,
        };
        let a = book.create(new(), now).0.original_id.clone();
        let b = book.create(new(), now).0.original_id.clone();
        assert_ne!(a, b);
        assert_eq!(book.by_sale("SAME").count(), 2);
        assert!(book.cancel(&a, now).unwrap().is_some());
        assert_eq!(book.cancel(&a, now), Ok(None));
        for _ in 0..3 {
            book.advance(&faults(0.0, 0.0), &mut rng, now);
        }
        assert_eq!(book.by_original(&a).unwrap().status, 9);
        assert_eq!(book.by_original(&b).unwrap().status, 6);
        assert_eq!(book.cancel(&b, now), Err(CancelRefusal::TooLate));
        assert_eq!(book.cancel("nope", now), Err(CancelRefusal::Unknown));
    }

    #[test]
    fn s10_item_codes() {
        // Check digits computed by hand with the S10 weights 8 6 4 2 3 5 9 7.
        assert_eq!(item_code("EB", 12_345_678), "EB123456785VN");
        assert_eq!(item_code("EE", 47_312_482), "EE473124829VN");
        let code = item_code("EB", 10_000_000);
        assert_eq!(code.len(), 13);
    }

    #[test]
    fn fees() {
        assert_eq!(fee("CTN001", 500, 0), 16_500);
        assert_eq!(fee("CTN001", 501, 0), 19_000);
        assert_eq!(fee("ETN013", 1000, 200_000), 30_000 + 5_000 + 13_000);
    }
}
