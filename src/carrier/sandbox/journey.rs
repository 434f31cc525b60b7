//! The sandbox's orders and how they move: a realistic journey through VNPost's status codes,
//! one step at a time, with chance-driven failed attempts and returns; cancellations, at once
//! or awaiting approval (a case polled through `orderCorrection/updateCase`); and forgetting
//! orders some time after they finished.
//!
//! Plain data and functions (the randomness and the clock are passed in), so the journeys are
//! unit-tested.

use super::Faults;
use super::fees;
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;

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
        21 => "Đã trả tiền thu hộ",
        29 => "Đã thu phí hủy",
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

/// A cancellation awaiting VNPost's approval (`Type` `"02"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelCase {
    pub case_id: String,
    /// `updateCase` polls still answered `"02"`.
    pub polls_left: u32,
    /// Decided once the polls are used up.
    pub outcome: Option<CaseOutcome>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseOutcome {
    /// `"00"`: cancelled (the order moved to 9).
    Approved,
    /// `"01"`, with VNPost's message.
    Refused(String),
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
    pub weight_grams: u32,
    pub sender_province_code: String,
    pub sender_commune_code: String,
    pub receiver_province_code: String,
    pub receiver_commune_code: String,
    /// `"1"` collected at the sender's, `"2"` handed in at a post office.
    pub send_type: String,
    pub total_fee: i64,
    pub cod_amount: i64,
    /// The current status code (the last of `history`).
    pub status: i32,
    pub history: Vec<Step>,
    /// A cancellation awaiting approval, or decided after awaiting it. While undecided, the
    /// order does not move (the postal worker waits for VNPost's decision).
    pub cancel_case: Option<CancelCase>,
    #[serde(skip)]
    serial: u32,
    #[serde(skip)]
    failed_pickup: bool,
    #[serde(skip)]
    failed_delivery: bool,
    #[serde(skip)]
    returning: bool,
}

/// A change of one order, as the pusher sends it (SPEC §6 record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub item_code: String,
    pub original_id: String,
    pub sale_order_code: String,
    pub status: i32,
    pub status_name: String,
    pub total_fee: i64,
    pub cod_amount: i64,
    pub at: DateTime<Utc>,
    pub note: String,
}

impl Order {
    pub fn is_final(&self) -> bool {
        FINAL.contains(&self.status)
    }

    /// Cancellation is possible until the item is collected (code 6).
    pub fn cancellable(&self) -> bool {
        self.status < 6
    }

    fn awaiting_cancel(&self) -> bool {
        self.cancel_case
            .as_ref()
            .is_some_and(|c| c.outcome.is_none())
    }

    pub fn updated_at(&self) -> DateTime<Utc> {
        self.history
            .last()
            .map(|s| s.at)
            .expect("an order has at least its creation step")
    }

    /// When it reached a final status.
    fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.is_final().then(|| self.updated_at())
    }

    /// Appends `code`. Times are whole seconds (the carrier's format) and strictly increase
    /// within an order, so that reports keep their order even when steps come faster than
    /// one a second (the accelerated clock, or explicit advances in tests).
    fn record(&mut self, code: i32, note: &str, now: DateTime<Utc>) -> Change {
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
        Change {
            item_code: self.item_code.clone(),
            original_id: self.original_id.clone(),
            sale_order_code: self.sale_order_code.clone(),
            status: code,
            status_name: status_name(code).to_owned(),
            total_fee: self.total_fee,
            cod_amount: self.cod_amount,
            at,
            note: note.to_owned(),
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

/// What `CreateOrder` records (checked already).
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub sale_order_code: String,
    pub service_code: String,
    pub weight_grams: u32,
    pub sender_province_code: String,
    pub sender_commune_code: String,
    pub receiver_province_code: String,
    pub receiver_commune_code: String,
    pub send_type: String,
    pub cod_vnd: i64,
    pub declared_vnd: i64,
}

/// What `orderCancel` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancelled {
    /// Cancelled now (with the change to push), or already before (`None`).
    Done(Option<Change>),
    /// Awaiting approval under this case.
    Pending(String),
}

/// What a poll of a case answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseAnswer {
    Waiting,
    /// Approved; the change to push when it was approved by this poll.
    Approved(Option<Change>),
    Refused(String),
}

/// All orders, with the indexes the carrier API looks them up by.
#[derive(Default)]
pub struct Book {
    /// By `originalID`.
    orders: HashMap<String, Order>,
    by_item: HashMap<String, String>,
    by_sale: HashMap<String, Vec<String>>,
    /// Numbering: random per run, so that two runs do not hand out the same item codes.
    first_serial: u32,
    created: u32,
    /// Item codes `GetListOrder` leaves out (reconciliation seeds).
    hidden: std::collections::HashSet<String>,
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

    /// Every order, oldest first.
    pub fn all(&self) -> Vec<Order> {
        let mut all: Vec<Order> = self.orders.values().cloned().collect();
        all.sort_by_key(|o| o.serial);
        all
    }

    /// Creates an order (never deduplicated: that is the gateway's job, SPEC §5).
    pub fn create(&mut self, new: NewOrder, now: DateTime<Utc>) -> (Order, Change) {
        let serial = self.first_serial.wrapping_add(self.created);
        self.created += 1;
        let same_province = new.sender_province_code == new.receiver_province_code;
        let total_fee = fees::quote(
            &new.service_code,
            new.weight_grams,
            same_province,
            new.cod_vnd,
            new.declared_vnd,
        )
        .map(|f| f.total)
        .unwrap_or_default();
        let mut order = Order {
            item_code: item_code("EB", serial),
            original_id: uuid::Uuid::now_v7().to_string(),
            order_hdr_id: serial.to_string(),
            total_fee,
            cod_amount: new.cod_vnd,
            sale_order_code: new.sale_order_code,
            service_code: new.service_code,
            weight_grams: new.weight_grams,
            sender_province_code: new.sender_province_code,
            sender_commune_code: new.sender_commune_code,
            receiver_province_code: new.receiver_province_code,
            receiver_commune_code: new.receiver_commune_code,
            send_type: new.send_type,
            status: 0,
            history: Vec::new(),
            cancel_case: None,
            serial,
            failed_pickup: false,
            failed_delivery: false,
            returning: false,
        };
        let change = order.record(1, "", now);
        let id = order.original_id.clone();
        self.by_item.insert(order.item_code.clone(), id.clone());
        self.by_sale
            .entry(order.sale_order_code.clone())
            .or_default()
            .push(id.clone());
        self.orders.insert(id, order.clone());
        (order, change)
    }

    pub fn by_item(&self, item_code: &str) -> Option<&Order> {
        self.by_item
            .get(item_code)
            .and_then(|id| self.orders.get(id))
    }

    pub fn by_original(&self, original_id: &str) -> Option<&Order> {
        self.orders.get(original_id)
    }

    pub fn by_sale(&self, sale_order_code: &str) -> Vec<&Order> {
        let mut found: Vec<&Order> = self
            .by_sale
            .get(sale_order_code)
            .into_iter()
            .flatten()
            .filter_map(|id| self.orders.get(id))
            .collect();
        found.sort_by_key(|o| o.serial);
        found
    }

    /// Orders last changed on the Vietnam dates `from..=to`, oldest first (`GetListOrder`).
    pub fn changed_between(&self, from: NaiveDate, to: NaiveDate) -> Vec<&Order> {
        let mut found: Vec<&Order> = self
            .orders
            .values()
            .filter(|o| {
                let day = crate::carrier::vntime::local(o.updated_at()).date_naive();
                (from..=to).contains(&day) && !self.hidden.contains(&o.item_code)
            })
            .collect();
        found.sort_by_key(|o| o.serial);
        found
    }

    /// Moves every live order one step (not those awaiting a cancellation's approval).
    pub fn advance(
        &mut self,
        faults: &Faults,
        rng: &mut impl Rng,
        now: DateTime<Utc>,
    ) -> Vec<Change> {
        let mut ids: Vec<(u32, String)> = self
            .orders
            .values()
            .map(|o| (o.serial, o.original_id.clone()))
            .collect();
        // In creation order, so that a seeded run draws its chances in a stable order.
        ids.sort();
        let mut changes = Vec::new();
        for (_, id) in ids {
            let order = self.orders.get_mut(&id).expect("listed just now");
            if order.awaiting_cancel() {
                continue;
            }
            if let Some((code, note)) = order.next(faults, rng) {
                changes.push(order.record(code, note, now));
            }
        }
        changes
    }

    /// Cancels an order not yet collected, at once or (`pending_polls` given) as a case
    /// awaiting approval that `updateCase` answers `"02"` that many times before deciding.
    pub fn cancel(
        &mut self,
        original_id: &str,
        pending_polls: Option<u32>,
        rng: &mut impl Rng,
        now: DateTime<Utc>,
    ) -> Result<Cancelled, CancelRefusal> {
        let order = self
            .orders
            .get_mut(original_id)
            .ok_or(CancelRefusal::Unknown)?;
        if order.status == 9 {
            return Ok(Cancelled::Done(None));
        }
        if let Some(case) = order.cancel_case.as_ref().filter(|c| c.outcome.is_none()) {
            return Ok(Cancelled::Pending(case.case_id.clone()));
        }
        if !order.cancellable() {
            return Err(CancelRefusal::TooLate);
        }
        Ok(match pending_polls {
            Some(polls_left) => {
                let case_id = format!("CASE{:08}", rng.random_range(0..100_000_000u32));
                order.cancel_case = Some(CancelCase {
                    case_id: case_id.clone(),
                    polls_left,
                    outcome: None,
                });
                Cancelled::Pending(case_id)
            }
            None => Cancelled::Done(Some(order.record(9, "Khách hàng hủy đơn", now))),
        })
    }

    /// A poll of a pending cancellation: `"02"` while polls are left, then the outcome
    /// (`approve` chooses it, when it is decided), then the same outcome again.
    pub fn poll_case(
        &mut self,
        original_id: &str,
        case_id: &str,
        approve: bool,
        now: DateTime<Utc>,
    ) -> Result<CaseAnswer, CancelRefusal> {
        let order = self
            .orders
            .get_mut(original_id)
            .ok_or(CancelRefusal::Unknown)?;
        let Some(case) = order.cancel_case.as_mut().filter(|c| c.case_id == case_id) else {
            return Err(CancelRefusal::UnknownCase);
        };
        match &case.outcome {
            Some(CaseOutcome::Approved) => return Ok(CaseAnswer::Approved(None)),
            Some(CaseOutcome::Refused(m)) => return Ok(CaseAnswer::Refused(m.clone())),
            None => {}
        }
        if case.polls_left > 0 {
            case.polls_left -= 1;
            return Ok(CaseAnswer::Waiting);
        }
        if approve {
            case.outcome = Some(CaseOutcome::Approved);
            let change = order.record(9, "Khách hàng hủy đơn (VNPost đã duyệt)", now);
            Ok(CaseAnswer::Approved(Some(change)))
        } else {
            let m = "VNPost không duyệt yêu cầu hủy: bưu tá đã đến nhận hàng".to_owned();
            case.outcome = Some(CaseOutcome::Refused(m.clone()));
            Ok(CaseAnswer::Refused(m))
        }
    }

    /// Forgets the orders that finished more than `after` ago; returns how many.
    pub fn forget_finished(&mut self, after: Duration, now: DateTime<Utc>) -> usize {
        let after = chrono::Duration::from_std(after).unwrap_or(chrono::Duration::MAX);
        let old: Vec<Order> = self
            .orders
            .values()
            .filter(|o| o.finished_at().is_some_and(|at| now - at > after))
            .cloned()
            .collect();
        for o in &old {
            self.orders.remove(&o.original_id);
            self.by_item.remove(&o.item_code);
            if let Some(ids) = self.by_sale.get_mut(&o.sale_order_code) {
                ids.retain(|id| id != &o.original_id);
                if ids.is_empty() {
                    self.by_sale.remove(&o.sale_order_code);
                }
            }
        }
        old.len()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelRefusal {
    Unknown,
    UnknownCase,
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

/// Differences seeded for the month's reconciliation (issue 10 §3): what VNPost's list says
/// otherwise than the gateway was told.
impl Book {
    /// VNPost now charges `fee` đồng for the order (e.g. re-weighed at the post office).
    pub fn set_fee(&mut self, item_code: &str, fee: i64) -> bool {
        let Some(id) = self.by_item.get(item_code) else {
            return false;
        };
        match self.orders.get_mut(id) {
            Some(o) => {
                o.total_fee = fee;
                true
            }
            None => false,
        }
    }

    /// `GetListOrder` leaves the order out.
    pub fn hide_from_list(&mut self, item_code: &str) -> bool {
        self.by_item.contains_key(item_code) && self.hidden.insert(item_code.to_owned())
    }

    /// The order gets a report that changes no status at the gateway: 21 (COD paid out), 28
    /// (postage paid), 29 (cancellation fee paid). It becomes the order's last status, as in
    /// VNPost's list.
    pub fn report(&mut self, item_code: &str, code: i32, now: DateTime<Utc>) -> Option<Change> {
        let id = self.by_item.get(item_code)?;
        let note = match code {
            21 => "Đã trả tiền thu hộ cho người gửi",
            29 => "Thu phí hủy đơn",
            _ => "",
        };
        Some(self.orders.get_mut(id)?.record(code, note, now))
    }
}

#[cfg(test)]
pub(crate) mod tests {
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

    pub(crate) fn new_order(sale: &str) -> NewOrder {
        NewOrder {
            sale_order_code: sale.into(),
            service_code: "CTN001".into(),
            weight_grams: 500,
            sender_province_code: "08".into(),
            sender_commune_code: "02215".into(),
            receiver_province_code: "08".into(),
            receiver_commune_code: "02215".into(),
            send_type: "1".into(),
            cod_vnd: 0,
            declared_vnd: 0,
        }
    }

    fn journey(f: &Faults) -> Vec<i32> {
        let mut rng = StdRng::seed_from_u64(7);
        let mut book = Book::new(&mut rng);
        let now = Utc::now();
        book.create(new_order("S1"), now);
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
        book.create(new_order("S1"), now);
        let changes: Vec<_> = (0..5)
            .flat_map(|_| book.advance(&faults(0.0, 0.0), &mut rng, now))
            .collect();
        let h = &book.all()[0].history;
        assert!(h.windows(2).all(|w| w[1].at > w[0].at));
        assert!(h.iter().all(|s| s.at.timestamp_subsec_nanos() == 0));
        assert_eq!(changes.last().unwrap().at, h.last().unwrap().at);
    }

    #[test]
    fn no_deduplication_and_cancel_rules() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut book = Book::new(&mut rng);
        let now = Utc::now();
        let a = book.create(new_order("SAME"), now).0.original_id;
        let b = book.create(new_order("SAME"), now).0.original_id;
        assert_ne!(a, b);
        assert_eq!(book.by_sale("SAME").len(), 2);
        let done = book.cancel(&a, None, &mut rng, now).unwrap();
        assert!(matches!(done, Cancelled::Done(Some(ref c)) if c.status == 9));
        assert_eq!(
            book.cancel(&a, None, &mut rng, now),
            Ok(Cancelled::Done(None))
        );
        for _ in 0..3 {
            book.advance(&faults(0.0, 0.0), &mut rng, now);
        }
        assert_eq!(book.by_original(&a).unwrap().status, 9);
        assert_eq!(book.by_original(&b).unwrap().status, 6);
        assert_eq!(
            book.cancel(&b, None, &mut rng, now),
            Err(CancelRefusal::TooLate)
        );
        assert_eq!(
            book.cancel("nope", None, &mut rng, now),
            Err(CancelRefusal::Unknown)
        );
    }

    #[test]
    fn a_pending_cancel_waits_then_is_approved_or_refused() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut book = Book::new(&mut rng);
        let now = Utc::now();
        let f = faults(0.0, 0.0);
        for approve in [true, false] {
            let id = book.create(new_order("P"), now).0.original_id;
            let Ok(Cancelled::Pending(case)) = book.cancel(&id, Some(2), &mut rng, now) else {
                panic!("not pending");
            };
            // Asked again while pending: the same case.
            assert_eq!(
                book.cancel(&id, Some(2), &mut rng, now),
                Ok(Cancelled::Pending(case.clone()))
            );
            // The order holds while VNPost decides.
            book.advance(&f, &mut rng, now);
            assert_eq!(book.by_original(&id).unwrap().status, 1);
            assert_eq!(
                book.poll_case(&id, "CASE-OTHER", approve, now),
                Err(CancelRefusal::UnknownCase)
            );
            for _ in 0..2 {
                assert_eq!(
                    book.poll_case(&id, &case, approve, now),
                    Ok(CaseAnswer::Waiting)
                );
            }
            let answer = book.poll_case(&id, &case, approve, now).unwrap();
            if approve {
                assert!(matches!(answer, CaseAnswer::Approved(Some(ref c)) if c.status == 9));
                assert_eq!(book.by_original(&id).unwrap().status, 9);
                assert_eq!(
                    book.poll_case(&id, &case, approve, now),
                    Ok(CaseAnswer::Approved(None))
                );
            } else {
                assert!(matches!(answer, CaseAnswer::Refused(ref m) if !m.is_empty()));
                // Refused: the journey goes on.
                book.advance(&f, &mut rng, now);
                assert_eq!(book.by_original(&id).unwrap().status, 2);
                assert_eq!(book.poll_case(&id, &case, true, now), Ok(answer));
            }
        }
    }

    #[test]
    fn finished_orders_are_forgotten_after_the_configured_time() {
        let mut rng = StdRng::seed_from_u64(4);
        let mut book = Book::new(&mut rng);
        let t0 = Utc::now();
        let done = book.create(new_order("DONE"), t0).0;
        let live = book.create(new_order("LIVE"), t0).0;
        book.cancel(&done.original_id, None, &mut rng, t0).unwrap();
        let hour = Duration::from_secs(3600);
        assert_eq!(
            book.forget_finished(hour, t0 + chrono::Duration::minutes(59)),
            0
        );
        assert_eq!(
            book.forget_finished(hour, t0 + chrono::Duration::minutes(62)),
            1
        );
        assert!(book.by_original(&done.original_id).is_none());
        assert!(book.by_item(&done.item_code).is_none());
        assert!(book.by_sale("DONE").is_empty());
        assert!(book.by_original(&live.original_id).is_some());
        assert_eq!(book.len(), 1);
    }

    #[test]
    fn the_list_by_date_range_in_vietnam_time() {
        use chrono::TimeZone;
        let mut rng = StdRng::seed_from_u64(5);
        let mut book = Book::new(&mut rng);
        // 18:00 UTC on the 26th is 01:00 on the 27th in Vietnam.
        let at = Utc.with_ymd_and_hms(2026, 11, 26, 18, 0, 0).unwrap();
        book.create(new_order("D"), at);
        let d = |day| NaiveDate::from_ymd_opt(2026, 11, day).unwrap();
        assert_eq!(book.changed_between(d(27), d(27)).len(), 1);
        assert_eq!(book.changed_between(d(25), d(26)).len(), 0);
        assert_eq!(book.changed_between(d(20), d(30)).len(), 1);
    }

    #[test]
    fn s10_item_codes() {
        // Check digits computed by hand with the S10 weights 8 6 4 2 3 5 9 7.
        assert_eq!(item_code("EB", 12_345_678), "EB123456785VN");
        assert_eq!(item_code("EE", 47_312_482), "EE473124829VN");
        let code = item_code("EB", 10_000_000);
        assert_eq!(code.len(), 13);
    }
}
