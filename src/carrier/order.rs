//! The carrier order for a shipment: who sends, who receives, the note on the waybill, cash on
//! delivery and how the item is taken. Pickup = citizen → office, delivery = office → citizen.

use super::{OrderRequest, Party, SendType};
use crate::config::{Config, Office};
use crate::domain::Kind;

/// What the order mapping needs of a shipment (`jobs::submit` fills it from the ledger row).
#[derive(Debug, Clone)]
pub struct ShipmentOrder<'a> {
    pub kind: Kind,
    pub sale_order_code: &'a str,
    pub dossier_code: &'a str,
    pub procedure_name: &'a str,
    /// The citizen: sender of a pickup, receiver of a delivery.
    pub citizen: Party,
    pub collect_fees_vnd: i64,
    pub cod_vnd: i64,
    /// The citizen's note to the postal worker.
    pub note: Option<&'a str>,
}

/// The carrier order for a shipment of `office`.
pub fn order_request(s: &ShipmentOrder<'_>, office: &Office, config: &Config) -> OrderRequest {
    let office_party = Party {
        name: office.name.clone(),
        phone: office.phone.clone(),
        email: None,
        address_line: office.address.line.clone(),
        province_code: office.address.province_code.clone(),
        commune_code: office.address.commune_code.clone(),
    };
    let citizen = s.citizen.clone();
    let (sender, receiver, what) = match s.kind {
        Kind::Pickup => (citizen, office_party, "Hồ sơ"),
        Kind::Delivery => (office_party, citizen, "Kết quả hồ sơ"),
    };
    let mut note = format!("{what} {} - {}", s.dossier_code, s.procedure_name);
    if s.collect_fees_vnd > 0 {
        note.push_str(&format!(" - thu phí {} đ", s.collect_fees_vnd));
    }
    OrderRequest {
        sale_order_code: s.sale_order_code.to_owned(),
        sender,
        receiver,
        service_code: config.carrier.service_code.clone(),
        weight_grams: config.carrier.weight_grams,
        content_note: note.chars().take(250).collect(),
        cod_vnd: s.kind.cod_asked(s.cod_vnd),
        // A pickup is collected at the citizen's home; a delivery as the office chose.
        send_type: match s.kind {
            Kind::Pickup => SendType::Collect,
            Kind::Delivery => office.send_type,
        },
        org_code_collect: office.org_code_collect.clone(),
        org_code_accept: office.org_code_accept.clone(),
        delivery_instruction: s.note.filter(|n| !n.trim().is_empty()).map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipment(kind: Kind) -> ShipmentOrder<'static> {
        let citizen = |name: &str, phone: &str, line: &str, commune: &str| Party {
            name: name.into(),
            phone: phone.into(),
            email: None,
            address_line: line.into(),
            province_code: "08".into(),
            commune_code: commune.into(),
        };
        match kind {
            Kind::Pickup => ShipmentOrder {
                kind,
                sale_order_code: "BCCI-TQ-0001",
                dossier_code: "000.00.14.H61-261127-0001",
                procedure_name: "Đăng ký biến động quyền sử dụng đất",
                citizen: citizen("Nguyễn Văn An", "0912345678", "Số 12, tổ 5", "02215"),
                collect_fees_vnd: 50000,
                cod_vnd: 0,
                note: Some("  "),
            },
            Kind::Delivery => ShipmentOrder {
                kind,
                sale_order_code: "BCCI-TQ-0002",
                dossier_code: "000.00.14.H61-261127-0002",
                procedure_name: "Đăng ký biến động quyền sử dụng đất",
                citizen: citizen("Trần Thị Bình", "0987654321", "Thôn Nà Mèo", "00700"),
                collect_fees_vnd: 50000,
                cod_vnd: 30000,
                note: Some("Gọi trước khi giao"),
            },
        }
    }

    #[test]
    fn a_pickup_goes_from_the_citizen_to_the_office() {
        let config = Config::from_overlay("").unwrap();
        let s = shipment(Kind::Pickup);
        let o = order_request(&s, config.office("VPDKDD-TQ").unwrap(), &config);
        assert_eq!(o.sender.name, "Nguyễn Văn An");
        assert_eq!(o.sender.commune_code, "02215");
        assert_eq!(
            o.receiver.name,
            "Văn phòng Đăng ký đất đai tỉnh Tuyên Quang"
        );
        assert_eq!(o.sale_order_code, "BCCI-TQ-0001");
        assert_eq!(o.cod_vnd, 0, "a pickup collects no cash on delivery");
        assert_eq!(o.send_type, SendType::Collect);
        assert_eq!(
            o.content_note,
            "Hồ sơ 000.00.14.H61-261127-0001 - Đăng ký biến động quyền sử dụng đất - thu phí 50000 đ"
        );
        assert_eq!(o.service_code, "CTN001");
        assert_eq!(
            o.delivery_instruction, None,
            "a blank note is no instruction"
        );
    }

    #[test]
    fn a_delivery_goes_from_the_office_to_the_citizen_with_cod() {
        let config = Config::from_overlay("").unwrap();
        let s = shipment(Kind::Delivery);
        let o = order_request(&s, config.office("VPDKDD-TQ").unwrap(), &config);
        assert_eq!(o.sender.name, "Văn phòng Đăng ký đất đai tỉnh Tuyên Quang");
        assert_eq!(o.receiver.name, "Trần Thị Bình");
        assert_eq!(o.receiver.phone, "0987654321");
        assert_eq!(o.cod_vnd, 30000);
        assert!(
            o.content_note
                .starts_with("Kết quả hồ sơ 000.00.14.H61-261127-0002")
        );
        assert_eq!(
            o.delivery_instruction.as_deref(),
            Some("Gọi trước khi giao")
        );
    }
}
