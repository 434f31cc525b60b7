//! What callers ask for, and whether it may be asked: the bodies of the shipment requests
//! (pickup, delivery: citizen, address, documents…), staff corrections and reasons, and their
//! validation. Pure Rust: the API and the console both validate through here, and render the
//! typed errors ([`Invalid`]) in their own language: English field paths and messages in the
//! API's problem documents ([`Invalid::message`]), Vietnamese sentences in the console
//! ([`Invalid::vi`]). Messages never quote the value (it may be a citizen's name or phone).

use super::admin_units::{AddressError, AdminUnits};
use super::dossier::{self, DossierCodeError};
use super::{phone, text};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Largest amount of money a request may carry, in đồng.
pub const MAX_FEE_VND: i64 = 100_000_000;

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InvalidKind {
    Empty,
    /// Longer than `max` characters: `got`.
    TooLong {
        max: usize,
        got: usize,
    },
    /// Longer than `max` characters (the count left out).
    LongerThan {
        max: usize,
    },
    /// Not `min` to `max` characters.
    Length {
        min: usize,
        max: usize,
    },
    ControlCharacters,
    /// Bidi controls or zero-width characters.
    InvisibleCharacters,
    /// Money outside 0 ..= `max` đồng.
    Amount {
        max: i64,
    },
    TooManyDocuments {
        max: usize,
    },
    Copies {
        min: u32,
        max: u32,
    },
    DossierCode(DossierCodeError),
    UnknownOffice,
    Phone,
    Email,
    IdNumber,
    /// Not exactly this many digits.
    Digits(usize),
    UnknownProvince,
    UnknownCommune,
    CommuneOutsideProvince {
        province: String,
        commune: String,
    },
}

/// One invalid field: its path in the request (`citizen.phone`, `documents[0].name`) and
/// what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invalid {
    pub field: String,
    pub kind: InvalidKind,
}

impl Invalid {
    pub fn new(field: impl Into<String>, kind: InvalidKind) -> Invalid {
        Invalid {
            field: field.into(),
            kind,
        }
    }

    /// The API's message (English), after the field's name.
    pub fn message(&self) -> String {
        use InvalidKind::*;
        match &self.kind {
            Empty => "must not be empty".into(),
            TooLong { max, got } => format!("must be at most {max} characters (got {got})"),
            LongerThan { max } => format!("must be at most {max} characters"),
            Length { min, max } => format!("must be {min} to {max} characters"),
            ControlCharacters => "must not contain control characters".into(),
            InvisibleCharacters => "must not contain bidirectional or zero-width characters".into(),
            Amount { max } => format!("must be between 0 and {max} VND"),
            TooManyDocuments { max } => format!("at most {max} documents"),
            Copies { min, max } => format!("must be between {min} and {max}"),
            DossierCode(e) => e.to_string(),
            UnknownOffice => "is not a configured office".into(),
            Phone => "must be a Vietnamese phone number: 0 + 9 digits, or +84 + 9 digits".into(),
            Email => "is not an e-mail address".into(),
            IdNumber => {
                "must be 12 digits (citizen identity) or 9 digits (old identity card)".into()
            }
            Digits(n) => format!("must be {n} digits"),
            UnknownProvince => "is not a province of the 2025 administrative units".into(),
            UnknownCommune => "is not a commune of the 2025 administrative units".into(),
            CommuneOutsideProvince { province, .. } => format!("is not in province {province}"),
        }
    }

    /// The sentence staff read in the console (Vietnamese), naming the field.
    pub fn vi(&self) -> String {
        use InvalidKind::*;
        let label = self.label();
        match &self.kind {
            Empty => format!("Hãy điền {}.", lower_first(&label)),
            TooLong { max, got } => format!("{label} dài tối đa {max} ký tự (đang có {got})."),
            LongerThan { max } => format!("{label} dài tối đa {max} ký tự."),
            Length { min, max } => format!("{label} phải có từ {min} đến {max} ký tự."),
            ControlCharacters => format!(
                "{label} chứa ký tự điều khiển (ký tự không in được, như NUL): hãy xoá ký tự đó."
            ),
            InvisibleCharacters => {
                format!("{label} chứa ký tự đảo chiều hoặc ký tự không độ rộng: hãy gõ lại ô này.")
            }
            Amount { max } => format!("{label} phải từ 0 đến {max} đồng."),
            TooManyDocuments { max } => format!("Tối đa {max} giấy tờ."),
            Copies { min, max } => format!("Số bản phải từ {min} đến {max}."),
            DossierCode(DossierCodeError::Shape) => {
                "Mã hồ sơ phải có dạng 000.00.14.H61-230512-0001.".into()
            }
            DossierCode(DossierCodeError::Date) => {
                "Ngày tiếp nhận (YYMMDD) trong mã hồ sơ không phải ngày có thật.".into()
            }
            UnknownOffice => format!("{label} không phải văn phòng đã khai báo."),
            Phone => format!("{label} không hợp lệ: 0 và 9 chữ số, hoặc +84 và 9 chữ số."),
            Email => format!("{label} không phải địa chỉ thư điện tử."),
            IdNumber => format!(
                "{label} phải có 12 chữ số (căn cước) hoặc 9 chữ số (chứng minh nhân dân cũ)."
            ),
            Digits(n) => format!("{label} phải có {n} chữ số."),
            UnknownProvince | UnknownCommune => {
                format!("{label} không có trong danh mục đơn vị hành chính 2025.")
            }
            CommuneOutsideProvince { province, commune } => {
                let units = AdminUnits::get();
                match units.commune(commune) {
                    Some(c) => format!(
                        "Xã/phường {} ({commune}) không thuộc {} ({province}).",
                        c.name,
                        units
                            .province(province)
                            .map_or("tỉnh/thành đã chọn", |p| p.name.as_str())
                    ),
                    None => format!("{label} không thuộc tỉnh/thành {province}."),
                }
            }
        }
    }

    /// The field's name as staff know it: by the last part of its path.
    fn label(&self) -> String {
        let last = self
            .field
            .rsplit('.')
            .next()
            .unwrap_or("")
            .split('[')
            .next()
            .unwrap_or("");
        match last {
            "reason" => "Lý do",
            "full_name" => "Họ tên",
            "phone" => "Số điện thoại",
            "email" => "Thư điện tử",
            "id_number" => "Số định danh",
            "line" => "Địa chỉ",
            "province_code" => "Mã tỉnh/thành",
            "commune_code" => "Mã xã/phường",
            "dossier_code" => "Mã hồ sơ",
            "office_code" => "Văn phòng",
            "code" => "Mã thủ tục",
            "name" => "Tên",
            "description" => "Mô tả kết quả",
            "note" => "Ghi chú",
            "collect_fees_vnd" => "Phí thu hộ",
            "cod_vnd" => "Tiền thu hộ (COD)",
            "documents" => "Giấy tờ",
            "copies" => "Số bản",
            _ => "Ô này",
        }
        .to_owned()
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// What is wrong with a single-line value (a name, a code, an address line), if anything.
fn line_problem(s: &str) -> Option<InvalidKind> {
    if s.chars().any(char::is_control) {
        Some(InvalidKind::ControlCharacters)
    } else if s.chars().any(text::is_invisible) {
        Some(InvalidKind::InvisibleCharacters)
    } else {
        None
    }
}

/// What is wrong with free text, if anything (after [`text::strip_invisible`]).
fn free_text_problem(s: &str) -> Option<InvalidKind> {
    s.chars()
        .any(text::is_bad_control)
        .then_some(InvalidKind::ControlCharacters)
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct Procedure {
    /// Code of the administrative procedure, e.g. `1.004227`.
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PersonIn {
    pub full_name: String,
    /// Vietnamese number: `0` + 9 digits or `+84` + 9 digits.
    pub phone: String,
    #[serde(default)]
    pub email: Option<String>,
    /// Citizen identity number (12 digits) or old identity card (9 digits).
    #[serde(default)]
    pub id_number: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct Address {
    /// House number, street, hamlet.
    pub line: String,
    /// 2-digit province code (2025 units).
    pub province_code: String,
    /// 5-digit commune code (2025 units).
    pub commune_code: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct Document {
    pub name: String,
    #[serde(default = "one")]
    pub copies: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct ResultInfo {
    pub description: String,
    #[serde(default)]
    pub documents: Vec<Document>,
}

/// `POST /v1/pickups`: a postal worker collects the citizen's dossier and brings it to the office.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[schema(example = json!({
    "dossier_code": "000.00.14.H61-230512-0001", "office_code": "VPDKDD-TQ",
    "procedure": {"code": "1.004227", "name": "Đăng ký biến động quyền sử dụng đất"},
    "citizen": {"full_name": "Nguyễn Văn An", "phone": "0912345678", "email": null, "id_number": "008090001234"},
    "address": {"line": "Số 12, tổ 5", "province_code": "08", "commune_code": "02215"},
    "documents": [{"name": "Đơn đăng ký biến động", "copies": 1}], "collect_fees_vnd": 0, "note": "Gọi trước khi đến"}))]
pub struct PickupRequest {
    pub dossier_code: String,
    pub office_code: String,
    pub procedure: Procedure,
    pub citizen: PersonIn,
    pub address: Address,
    #[serde(default)]
    pub documents: Vec<Document>,
    #[serde(default)]
    pub collect_fees_vnd: i64,
    #[serde(default)]
    pub note: Option<String>,
}

/// `POST /v1/deliveries`: a postal worker takes a procedure's result from the office to the citizen.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct DeliveryRequest {
    pub dossier_code: String,
    pub office_code: String,
    pub procedure: Procedure,
    pub recipient: PersonIn,
    pub address: Address,
    pub result: ResultInfo,
    #[serde(default)]
    pub documents: Vec<Document>,
    /// The appointment date on the receipt (giấy hẹn trả kết quả).
    #[serde(default)]
    pub due_at: Option<DateTime<FixedOffset>>,
    /// Cash to collect from the recipient.
    #[serde(default)]
    pub cod_vnd: i64,
    #[serde(default)]
    pub collect_fees_vnd: i64,
    #[serde(default)]
    pub note: Option<String>,
}

/// The parts common to both kinds of request.
pub struct Common<'a> {
    pub dossier_code: &'a str,
    pub office_code: &'a str,
    pub procedure: &'a Procedure,
    /// `citizen` or `recipient`: where the person is in the request.
    pub person_field: &'static str,
    pub person: &'a PersonIn,
    pub address: &'a Address,
    pub documents: &'a [Document],
    pub collect_fees_vnd: i64,
    pub note: Option<&'a String>,
}

/// A valid request's normalised phone number (`0` + 9 digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub phone: String,
}

#[derive(Default)]
struct Checker {
    errors: Vec<Invalid>,
}

impl Checker {
    fn err(&mut self, field: impl Into<String>, kind: InvalidKind) {
        self.errors.push(Invalid::new(field, kind));
    }

    /// Non-blank text of at most `max` characters, without control, bidi or zero-width
    /// characters.
    fn text(&mut self, field: &str, value: &str, max: usize) {
        let got = value.chars().count();
        if value.trim().is_empty() {
            self.err(field, InvalidKind::Empty);
        } else if got > max {
            self.err(field, InvalidKind::TooLong { max, got });
        } else if let Some(problem) = line_problem(value) {
            self.err(field, problem);
        }
    }

    /// Free text (bidi and zero-width characters already stripped by `strip_free_text`).
    fn optional_text(&mut self, field: &str, value: Option<&String>, max: usize) {
        if let Some(v) = value {
            let got = v.chars().count();
            if got > max {
                self.err(field, InvalidKind::TooLong { max, got });
            } else if let Some(problem) = free_text_problem(v) {
                self.err(field, problem);
            }
        }
    }

    fn amount(&mut self, field: &str, v: i64) {
        if !(0..=MAX_FEE_VND).contains(&v) {
            self.err(field, InvalidKind::Amount { max: MAX_FEE_VND });
        }
    }

    fn documents(&mut self, field: &str, docs: &[Document]) {
        if docs.len() > 50 {
            self.err(field, InvalidKind::TooManyDocuments { max: 50 });
        }
        for (i, d) in docs.iter().enumerate() {
            self.text(&format!("{field}[{i}].name"), &d.name, 255);
            if !(1..=100).contains(&d.copies) {
                self.err(
                    format!("{field}[{i}].copies"),
                    InvalidKind::Copies { min: 1, max: 100 },
                );
            }
        }
    }

    fn common(&mut self, c: &Common<'_>, is_office: &dyn Fn(&str) -> bool) -> Option<String> {
        if c.dossier_code.chars().count() > 64 {
            self.err("dossier_code", InvalidKind::LongerThan { max: 64 });
        } else if let Err(e) = dossier::validate(c.dossier_code) {
            self.err("dossier_code", InvalidKind::DossierCode(e));
        }
        if !is_office(c.office_code) {
            self.err("office_code", InvalidKind::UnknownOffice);
        }
        self.text("procedure.code", &c.procedure.code, 32);
        self.text("procedure.name", &c.procedure.name, 255);
        let p = c.person_field;
        self.text(&format!("{p}.full_name"), &c.person.full_name, 100);
        let phone = phone::normalise(&c.person.phone);
        if phone.is_none() {
            self.err(format!("{p}.phone"), InvalidKind::Phone);
        }
        if let Some(email) = &c.person.email {
            let ok = email.len() <= 254
                && !email.chars().any(char::is_whitespace)
                && matches!(email.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.') && !d.contains('@'));
            if let Some(problem) = line_problem(email) {
                self.err(format!("{p}.email"), problem);
            } else if !ok {
                self.err(format!("{p}.email"), InvalidKind::Email);
            }
        }
        if let Some(id) = &c.person.id_number
            && (!(id.len() == 12 || id.len() == 9) || !id.bytes().all(|b| b.is_ascii_digit()))
        {
            self.err(format!("{p}.id_number"), InvalidKind::IdNumber);
        }
        self.text("address.line", &c.address.line, 255);
        self.errors.extend(address_codes(
            &c.address.province_code,
            &c.address.commune_code,
        ));
        self.documents("documents", c.documents);
        self.amount("collect_fees_vnd", c.collect_fees_vnd);
        self.optional_text("note", c.note, 500);
        phone
    }

    fn finish(self, phone: Option<String>) -> Result<Checked, Vec<Invalid>> {
        match phone {
            Some(phone) if self.errors.is_empty() => Ok(Checked { phone }),
            _ => Err(self.errors),
        }
    }
}

/// What is wrong with a 2025 province and commune code pair, as `address.*` field errors.
pub fn address_codes(province_code: &str, commune_code: &str) -> Vec<Invalid> {
    let mut errors = Vec::new();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let (province_shape, commune_shape) = (digits(province_code, 2), digits(commune_code, 5));
    if !province_shape {
        errors.push(Invalid::new(
            "address.province_code",
            InvalidKind::Digits(2),
        ));
    }
    if !commune_shape {
        errors.push(Invalid::new("address.commune_code", InvalidKind::Digits(5)));
    }
    if province_shape && commune_shape {
        errors.extend(admin_units("address", province_code, commune_code));
    }
    errors
}

/// The province and commune codes against the 2025 administrative units, as
/// `<prefix>.province_code` / `<prefix>.commune_code` errors.
fn admin_units(prefix: &str, province_code: &str, commune_code: &str) -> Option<Invalid> {
    let (field, kind) = match AdminUnits::get().check(province_code, commune_code) {
        Ok(()) => return None,
        Err(AddressError::UnknownProvince) => ("province_code", InvalidKind::UnknownProvince),
        Err(AddressError::UnknownCommune) => ("commune_code", InvalidKind::UnknownCommune),
        Err(AddressError::CommuneOutsideProvince) => (
            "commune_code",
            InvalidKind::CommuneOutsideProvince {
                province: province_code.to_owned(),
                commune: commune_code.to_owned(),
            },
        ),
    };
    Some(Invalid::new(format!("{prefix}.{field}"), kind))
}

/// Strips bidi and zero-width characters from free text (see `domain::text`).
fn strip_free_text(note: &mut Option<String>, documents: &mut [Document]) {
    if let Some(n) = note {
        *n = text::strip_invisible(n);
    }
    for d in documents {
        d.name = text::strip_invisible(&d.name);
    }
}

impl PickupRequest {
    /// Removes what free text may not keep; names and codes are checked by `validate`.
    pub fn strip_free_text(mut self) -> Self {
        strip_free_text(&mut self.note, &mut self.documents);
        self
    }

    pub fn common(&self) -> Common<'_> {
        Common {
            dossier_code: &self.dossier_code,
            office_code: &self.office_code,
            procedure: &self.procedure,
            person_field: "citizen",
            person: &self.citizen,
            address: &self.address,
            documents: &self.documents,
            collect_fees_vnd: self.collect_fees_vnd,
            note: self.note.as_ref(),
        }
    }

    /// Every problem of the request, each naming its field; `is_office` tells a configured
    /// office code.
    pub fn validate(&self, is_office: &dyn Fn(&str) -> bool) -> Result<Checked, Vec<Invalid>> {
        let mut ck = Checker::default();
        let phone = ck.common(&self.common(), is_office);
        ck.finish(phone)
    }
}

impl DeliveryRequest {
    /// Removes what free text may not keep; names and codes are checked by `validate`.
    pub fn strip_free_text(mut self) -> Self {
        strip_free_text(&mut self.note, &mut self.documents);
        strip_free_text(&mut None, &mut self.result.documents);
        self.result.description = text::strip_invisible(&self.result.description);
        self
    }

    pub fn common(&self) -> Common<'_> {
        Common {
            dossier_code: &self.dossier_code,
            office_code: &self.office_code,
            procedure: &self.procedure,
            person_field: "recipient",
            person: &self.recipient,
            address: &self.address,
            documents: &self.documents,
            collect_fees_vnd: self.collect_fees_vnd,
            note: self.note.as_ref(),
        }
    }

    /// Every problem of the request, each naming its field; `is_office` tells a configured
    /// office code.
    pub fn validate(&self, is_office: &dyn Fn(&str) -> bool) -> Result<Checked, Vec<Invalid>> {
        let mut ck = Checker::default();
        let phone = ck.common(&self.common(), is_office);
        ck.text("result.description", &self.result.description, 500);
        ck.documents("result.documents", &self.result.documents);
        ck.amount("cod_vnd", self.cod_vnd);
        ck.finish(phone)
    }
}

/// A staff member's reason for an action (kept in the audit log): 1 to 500 characters of free
/// text; bidi and zero-width characters are stripped, controls refused.
pub fn reason(reason: &str) -> Result<String, Invalid> {
    let stripped = text::strip_invisible(reason);
    let r = stripped.trim();
    if r.is_empty() || r.chars().count() > 500 {
        return Err(Invalid::new(
            "reason",
            InvalidKind::Length { min: 1, max: 500 },
        ));
    }
    if let Some(problem) = free_text_problem(r) {
        return Err(Invalid::new("reason", problem));
    }
    Ok(r.to_owned())
}

/// Data staff correct before a rejected shipment is submitted again, as given.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CorrectionsIn {
    pub full_name: Option<String>,
    pub phone: Option<String>,
    pub address: Option<Address>,
}

/// Corrections once valid: names with single spaces, the phone normalised, the line trimmed.
#[derive(Debug, Clone, Default)]
pub struct Corrections {
    pub full_name: Option<String>,
    /// Normalised.
    pub phone: Option<String>,
    pub address_line: Option<String>,
    pub province_code: Option<String>,
    pub commune_code: Option<String>,
}

impl Corrections {
    pub fn is_empty(&self) -> bool {
        self.full_name.is_none()
            && self.phone.is_none()
            && self.address_line.is_none()
            && self.commune_code.is_none()
    }
}

/// Validates corrections with the same rules as creation (`corrections.*` fields).
pub fn corrections(c: Option<CorrectionsIn>) -> Result<Corrections, Vec<Invalid>> {
    let Some(c) = c else {
        return Ok(Corrections::default());
    };
    let mut errors = Vec::new();
    let mut out = Corrections::default();
    if let Some(n) = c.full_name {
        let n = n.split_whitespace().collect::<Vec<_>>().join(" ");
        if n.is_empty() || n.chars().count() > 100 {
            errors.push(Invalid::new(
                "corrections.full_name",
                InvalidKind::Length { min: 1, max: 100 },
            ));
        } else if let Some(problem) = line_problem(&n) {
            errors.push(Invalid::new("corrections.full_name", problem));
        }
        out.full_name = Some(n);
    }
    if let Some(p) = c.phone {
        match phone::normalise(&p) {
            Some(p) => out.phone = Some(p),
            None => errors.push(Invalid::new("corrections.phone", InvalidKind::Phone)),
        }
    }
    if let Some(a) = c.address {
        if a.line.trim().is_empty() || a.line.chars().count() > 255 {
            errors.push(Invalid::new(
                "corrections.address.line",
                InvalidKind::Length { min: 1, max: 255 },
            ));
        } else if let Some(problem) = line_problem(&a.line) {
            errors.push(Invalid::new("corrections.address.line", problem));
        }
        errors.extend(admin_units(
            "corrections.address",
            &a.province_code,
            &a.commune_code,
        ));
        out.address_line = Some(a.line.trim().to_owned());
        out.province_code = Some(a.province_code);
        out.commune_code = Some(a.commune_code);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_invisibles() {
        assert_eq!(line_problem("Nguyễn Văn An"), None);
        assert_eq!(line_problem("ab\0cd"), Some(InvalidKind::ControlCharacters));
        assert_eq!(
            line_problem("ab\u{85}cd"),
            Some(InvalidKind::ControlCharacters)
        );
        for s in ["An\u{202E}nA", "An\u{200B}", "An\u{FEFF}"] {
            assert_eq!(
                line_problem(s),
                Some(InvalidKind::InvisibleCharacters),
                "{s:?}"
            );
        }
        assert_eq!(free_text_problem("dòng 1\r\ndòng 2\tx"), None);
        assert_eq!(
            free_text_problem("a\u{1b}[31m"),
            Some(InvalidKind::ControlCharacters)
        );
    }

    /// The API's words are part of its contract: they must not change with the typing.
    #[test]
    fn english_messages_are_the_apis() {
        let m = |kind| Invalid::new("x", kind).message();
        assert_eq!(
            m(InvalidKind::TooLong { max: 100, got: 101 }),
            "must be at most 100 characters (got 101)"
        );
        assert_eq!(
            m(InvalidKind::Length { min: 1, max: 500 }),
            "must be 1 to 500 characters"
        );
        assert_eq!(
            m(InvalidKind::Amount { max: MAX_FEE_VND }),
            "must be between 0 and 100000000 VND"
        );
        assert_eq!(m(InvalidKind::Digits(2)), "must be 2 digits");
        assert_eq!(
            m(InvalidKind::CommuneOutsideProvince {
                province: "08".into(),
                commune: "00001".into()
            }),
            "is not in province 08"
        );
    }

    #[test]
    fn staff_read_vietnamese_naming_the_field() {
        let e = reason("  ").unwrap_err();
        assert_eq!(e.field, "reason");
        assert_eq!(e.vi(), "Lý do phải có từ 1 đến 500 ký tự.");
        let e = corrections(Some(CorrectionsIn {
            full_name: None,
            phone: Some("12345".into()),
            address: None,
        }))
        .unwrap_err();
        assert_eq!(e[0].field, "corrections.phone");
        assert!(
            e[0].vi().starts_with("Số điện thoại không hợp lệ"),
            "{}",
            e[0].vi()
        );
        let e = Invalid::new("documents[3].name", InvalidKind::ControlCharacters);
        assert!(
            e.vi().starts_with("Tên chứa ký tự điều khiển"),
            "{}",
            e.vi()
        );
    }

    #[test]
    fn a_commune_of_another_province_is_named() {
        let units = AdminUnits::get();
        let c = units.communes_sorted()[0];
        let commune = c.code.clone();
        let province = units
            .provinces_sorted()
            .into_iter()
            .find(|p| p.code != c.province_code)
            .map(|p| p.code.clone())
            .expect("another province");
        let e = address_codes(&province, &commune);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].field, "address.commune_code");
        assert!(e[0].vi().contains("không thuộc"), "{}", e[0].vi());
        assert!(e[0].vi().contains(&commune), "{}", e[0].vi());
    }

    #[test]
    fn reasons_are_trimmed_and_stripped() {
        assert_eq!(reason(" Gọi\u{200B} lại ").unwrap(), "Gọi lại");
        assert_eq!(
            reason("a\u{7}b").unwrap_err().kind,
            InvalidKind::ControlCharacters
        );
    }
}
