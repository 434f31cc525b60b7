//! "Tìm kiếm": one box (dossier code, tracking number, phone's last digits, name) and
//! filters, newest first, keyset-paginated.

use super::session::Staff;
use super::{ConsoleError, Layout, format, forms, html};
use crate::config::Config;
use crate::domain::{Kind, Status};
use crate::ledger::search::{self as ledger, Hit, Search};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A shipment in a list.
pub struct Row {
    pub id: Uuid,
    pub dossier_code: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub status_class: &'static str,
    pub name: String,
    pub phone: String,
    /// The phone as a `tel:` target, only when shown unmasked.
    pub tel: String,
    pub tracking: String,
    pub office: String,
    pub office_name: String,
    pub created: String,
    pub due: String,
    pub late: bool,
    pub last_report: String,
    pub reason: String,
}

impl Row {
    pub fn new(h: &Hit, pii: bool, config: &Config) -> Row {
        Row {
            id: h.id,
            dossier_code: h.dossier_code.clone(),
            kind: format::kind(h.kind()),
            status: format::status_of(h.kind(), h.status()),
            status_class: format::status_class(h.status()),
            name: format::name(&h.person_name, pii),
            phone: format::phone(&h.person_phone, pii),
            tel: if pii {
                format::tel(&h.person_phone)
            } else {
                String::new()
            },
            tracking: h.tracking_number.clone().unwrap_or_default(),
            office: h.office_code.clone(),
            office_name: config
                .office(&h.office_code)
                .map(|o| o.name.clone())
                .unwrap_or_default(),
            created: format::datetime(h.created_at),
            due: format::opt_datetime(h.due_at),
            late: h.late,
            last_report: format::opt_datetime(h.last_report_at),
            reason: h
                .status_reason
                .as_deref()
                .map(|r| super::timeline::rejection(r, h.kind(), &h.office_code).text)
                .unwrap_or_default(),
        }
    }
}

/// An option of a `<select>`.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// The offices this staff member may see, as choices.
pub fn office_choices(config: &Config, staff: &Staff, selected: &str) -> Vec<Choice> {
    config
        .offices
        .iter()
        .filter(|o| {
            staff
                .who
                .offices
                .as_ref()
                .is_none_or(|mine| mine.contains(&o.code))
        })
        .map(|o| Choice {
            value: o.code.clone(),
            label: o.name.clone(),
            selected: o.code == selected,
        })
        .collect()
}

pub fn kind_choices(selected: &str) -> Vec<Choice> {
    Kind::ALL
        .iter()
        .map(|k| Choice {
            value: k.as_str().into(),
            label: format::kind(*k).into(),
            selected: k.as_str() == selected,
        })
        .collect()
}

#[derive(Debug, Default, Deserialize, Serialize, Clone)]
pub struct Params {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub q: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub office: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub to: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub late: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub before: String,
}

impl Params {
    fn is_empty(&self) -> bool {
        let mut p = self.clone();
        p.before.clear();
        serde_urlencoded::to_string(&p)
            .unwrap_or_default()
            .is_empty()
    }

    /// The search these parameters ask for, and what in them was not understood.
    fn search(&self, page_size: i64) -> (Search, Vec<String>) {
        let mut errors = Vec::new();
        let mut s = Search {
            limit: page_size,
            ..Default::default()
        };
        let q = self.q.trim();
        if q.chars().count() > 100 {
            errors.push("Ô tìm kiếm: tối đa 100 ký tự.".into());
        } else if !q.is_empty() {
            s.q = Some(q.to_owned());
        }
        if !self.kind.is_empty() {
            match self.kind.parse::<Kind>() {
                Ok(k) => s.kind = Some(k),
                Err(_) => errors.push("Loại không hợp lệ.".into()),
            }
        }
        if !self.status.is_empty() {
            match self.status.parse::<Status>() {
                Ok(st) => s.status = Some(st),
                Err(_) => errors.push("Trạng thái không hợp lệ.".into()),
            }
        }
        if !self.office.is_empty() {
            s.office = Some(self.office.clone());
        }
        let mut day = |raw: &str, what: &str| {
            forms::date(raw, what).unwrap_or_else(|e| {
                errors.push(e);
                None
            })
        };
        let (from, to) = (day(&self.from, "Từ ngày"), day(&self.to, "Đến ngày"));
        s.created_from = from.map(format::start_of);
        // "to" is inclusive: up to the start of the next day
        s.created_before = to.and_then(|d| d.succ_opt()).map(format::start_of);
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            errors.push(forms::FROM_AFTER_TO.into());
        }
        match self.late.as_str() {
            "" => {}
            "yes" => s.late = Some(true),
            "no" => s.late = Some(false),
            _ => errors.push("Lọc trễ hạn không hợp lệ.".into()),
        }
        if !self.before.is_empty() {
            match Uuid::parse_str(&self.before) {
                Ok(b) => s.before = Some(b),
                Err(_) => errors.push("Liên kết trang không hợp lệ.".into()),
            }
        }
        (s, errors)
    }
}

#[derive(Template)]
#[template(path = "console/search.html")]
struct SearchPage {
    layout: Layout,
    p: Params,
    /// The date fields as they show: `dd/mm/yyyy`.
    from_shown: String,
    to_shown: String,
    kinds: Vec<Choice>,
    statuses: Vec<Choice>,
    offices: Vec<Choice>,
    rows: Vec<Row>,
    errors: Vec<String>,
    searched: bool,
    next_href: Option<String>,
    first_href: Option<String>,
}

/// Keyset paging: the search asked for one hit more than `limit`. Keeps the page's hits and,
/// when there are more, gives the next page's `before` (the last id kept).
pub fn next_page(hits: &mut Vec<Hit>, limit: i64) -> Option<String> {
    let more = hits.len() as i64 > limit;
    hits.truncate(limit as usize);
    more.then(|| hits.last().map(|h| h.id.to_string()).unwrap_or_default())
}

pub async fn page(
    state: web::Data<AppState>,
    staff: Staff,
    params: web::Query<Params>,
) -> Result<HttpResponse, ConsoleError> {
    let p = params.into_inner();
    let config = &state.config;
    let (search, errors) = p.search(config.console.page_size as i64);
    let mut hits = if errors.is_empty() {
        let mut conn = state.pool.get().await?;
        ledger::search(&mut conn, &staff.who.visibility(), &search).await?
    } else {
        Vec::new()
    };
    let next_href = next_page(&mut hits, search.limit).map(|before| {
        let next = Params {
            before,
            ..p.clone()
        };
        super::with_query("/console/search", &next)
    });
    let first_href = (!p.before.is_empty()).then(|| {
        let first = Params {
            before: String::new(),
            ..p.clone()
        };
        super::with_query("/console/search", &first)
    });
    let pii = staff.sees_pii();
    html(&SearchPage {
        layout: Layout::staff("Tìm kiếm", &staff, "search"),
        kinds: kind_choices(&p.kind),
        statuses: Status::ALL
            .iter()
            .map(|s| Choice {
                value: s.as_str().into(),
                label: format::status(*s).into(),
                selected: s.as_str() == p.status,
            })
            .collect(),
        offices: office_choices(config, &staff, &p.office),
        rows: hits.iter().map(|h| Row::new(h, pii, config)).collect(),
        errors,
        searched: !p.is_empty(),
        next_href,
        first_href,
        from_shown: format::input_again(&p.from),
        to_shown: format::input_again(&p.to),
        p,
    })
}
