//! The sandbox's postage (`ServicesCharge`, and `totalFee` of the orders it creates): a
//! plausible table in whole đồng, by service, weight step and whether sender and receiver are
//! in the same province, plus the add-on fees (cash on delivery, declared value).
//!
//! Not VNPost's price list: a stand-in with the same shape, so that quotes and stored fees
//! can be tested end to end.

/// The services the sandbox carries, with their names.
pub const SERVICES: [(&str, &str); 3] = [
    ("CTN001", "Chuyển phát thương mại điện tử tiết kiệm"),
    ("ETN011", "Chuyển phát thương mại điện tử nhanh"),
    ("ETN013", "Chuyển phát thương mại điện tử hỏa tốc"),
];

/// Heaviest item accepted, in grams.
pub const MAX_WEIGHT_GRAMS: u32 = 30_000;

/// Weight step beyond the first one, in grams.
const STEP_GRAMS: u32 = 500;

/// The postage of one service for one item, in đồng.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fee {
    /// Carriage (`mainFee`).
    pub main: i64,
    /// Add-on services (`vasFee`).
    pub vas: i64,
    pub total: i64,
}

pub fn service_name(code: &str) -> Option<&'static str> {
    SERVICES.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

/// The postage of `service` for `weight_grams`; `None` for an unknown service or a weight
/// outside 1 g to [`MAX_WEIGHT_GRAMS`].
///
/// Carriage: a price for the first 500 g and one per further 500 g started, lower within a
/// province. Cash on delivery: 1 % of the amount, at least 13,000 đ. Declared value: 0.5 %,
/// at least 5,000 đ.
pub fn quote(
    service: &str,
    weight_grams: u32,
    same_province: bool,
    cod_vnd: i64,
    declared_vnd: i64,
) -> Option<Fee> {
    if weight_grams == 0 || weight_grams > MAX_WEIGHT_GRAMS {
        return None;
    }
    // (first step, each further step) within a province, then between provinces.
    let ((first_in, step_in), (first_out, step_out)) = match service {
        "CTN001" => ((16_500, 2_500), (22_000, 4_000)),
        "ETN011" => ((22_000, 3_500), (30_000, 5_500)),
        "ETN013" => ((30_000, 5_000), (45_000, 9_000)),
        _ => return None,
    };
    let (first, step) = if same_province {
        (first_in, step_in)
    } else {
        (first_out, step_out)
    };
    let further = i64::from((weight_grams - 1) / STEP_GRAMS);
    let main = first + further * step;
    let mut vas = 0;
    if cod_vnd > 0 {
        vas += (cod_vnd / 100).max(13_000);
    }
    if declared_vnd > 0 {
        vas += (declared_vnd / 200).max(5_000);
    }
    Some(Fee {
        main,
        vas,
        total: main + vas,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn main(service: &str, grams: u32, same: bool) -> i64 {
        quote(service, grams, same, 0, 0).unwrap().main
    }

    #[test]
    fn carriage_by_weight_step_and_province() {
        assert_eq!(main("CTN001", 1, true), 16_500);
        assert_eq!(main("CTN001", 500, true), 16_500);
        assert_eq!(main("CTN001", 501, true), 19_000);
        assert_eq!(main("CTN001", 1_000, true), 19_000);
        assert_eq!(main("CTN001", 1_001, true), 21_500);
        assert_eq!(main("CTN001", 500, false), 22_000);
        assert_eq!(main("ETN011", 2_000, false), 30_000 + 3 * 5_500);
        assert_eq!(main("ETN013", 30_000, true), 30_000 + 59 * 5_000);
        // Faster costs more, and further costs more, at every weight.
        for grams in [1, 499, 500, 501, 7_250, 30_000] {
            for same in [true, false] {
                assert!(main("CTN001", grams, same) < main("ETN011", grams, same));
                assert!(main("ETN011", grams, same) < main("ETN013", grams, same));
            }
            assert!(main("CTN001", grams, true) < main("CTN001", grams, false));
        }
    }

    #[test]
    fn add_ons() {
        let f = quote("CTN001", 500, true, 200_000, 0).unwrap();
        assert_eq!((f.main, f.vas, f.total), (16_500, 13_000, 29_500));
        let f = quote("CTN001", 500, true, 3_000_000, 0).unwrap();
        assert_eq!(f.vas, 30_000);
        let f = quote("ETN011", 500, false, 0, 4_000_000).unwrap();
        assert_eq!((f.vas, f.total), (20_000, 50_000));
        let f = quote("ETN011", 500, false, 0, 100_000).unwrap();
        assert_eq!(f.vas, 5_000);
    }

    #[test]
    fn refusals() {
        assert_eq!(quote("XXX001", 500, true, 0, 0), None);
        assert_eq!(quote("CTN001", 0, true, 0, 0), None);
        assert_eq!(quote("CTN001", MAX_WEIGHT_GRAMS + 1, true, 0, 0), None);
        assert!(SERVICES.iter().all(|(c, _)| service_name(c).is_some()));
    }
}
