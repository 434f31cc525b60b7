//! Valid request bodies (SPEC §3's examples) and dossier codes: for the tests, and for the
//! benchmarks, which include this file (`#[path]`) to seed their ledgers through the library.

use serde_json::{Value, json};

/// A valid pickup body for `dossier` (SPEC §3's example).
pub fn pickup_body(dossier: &str) -> Value {
    json!({
        "dossier_code": dossier,
        "office_code": "VPDKDD-TQ",
        "procedure": { "code": "1.004227", "name": "Đăng ký biến động quyền sử dụng đất" },
        "citizen": { "full_name": "Nguyễn Văn An", "phone": "0912345678", "email": null, "id_number": "008090001234" },
        "address": { "line": "Số 12, tổ 5", "province_code": "08", "commune_code": "02215" },
        "documents": [ { "name": "Đơn đăng ký biến động", "copies": 1 } ],
        "collect_fees_vnd": 0,
        "note": "Gọi trước khi đến"
    })
}

/// A valid delivery body for `dossier`.
pub fn delivery_body(dossier: &str) -> Value {
    json!({
        "dossier_code": dossier,
        "office_code": "VPDKDD-TQ",
        "procedure": { "code": "1.004227", "name": "Đăng ký biến động quyền sử dụng đất" },
        "recipient": { "full_name": "Trần Thị Bình", "phone": "+84 987 654 321", "email": "binh@example.vn", "id_number": null },
        "address": { "line": "Thôn Nà Mèo", "province_code": "08", "commune_code": "00700" },
        "result": { "description": "Giấy chứng nhận quyền sử dụng đất", "documents": [ { "name": "Giấy chứng nhận", "copies": 1 } ] },
        "due_at": "2099-12-01T17:00:00+07:00",
        "cod_vnd": 30000
    })
}

/// A distinct, well-formed dossier code.
pub fn dossier(n: u32) -> String {
    format!("000.00.14.H61-261127-{n:04}")
}
