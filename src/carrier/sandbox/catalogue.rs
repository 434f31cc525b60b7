//! VNPost's own 2025 address catalogues as the sandbox serves them (`getNewProvinceAll`,
//! `getNewCommuneAll`): the official list of `crate::domain::admin_units`, less the codes
//! `catalogue_missing` names and with the names `catalogue_renamed` gives, so that tests can
//! show the gateway's `carrier check` finding differences.

use crate::domain::admin_units::AdminUnits;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// `[{"provinceCode","provinceName"}]`, by code.
pub fn provinces(missing: &[String], renamed: &BTreeMap<String, String>) -> Value {
    let list = AdminUnits::get().provinces_sorted();
    Value::Array(
        list.into_iter()
            .filter(|p| !missing.contains(&p.code))
            .map(|p| {
                let name = renamed.get(&p.code).unwrap_or(&p.name);
                json!({ "provinceCode": p.code, "provinceName": name })
            })
            .collect(),
    )
}

/// `[{"communeCode","communeName",<province_key>}]`, by code; `province_key` is
/// `provinceCode` or `districtCode` (both seen).
pub fn communes(
    missing: &[String],
    renamed: &BTreeMap<String, String>,
    province_key: &str,
) -> Value {
    let list = AdminUnits::get().communes_sorted();
    Value::Array(
        list.into_iter()
            .filter(|c| !missing.contains(&c.code))
            .map(|c| {
                let name = renamed.get(&c.code).unwrap_or(&c.name);
                let mut e = json!({ "communeCode": c.code, "communeName": name });
                e[province_key] = json!(c.province_code);
                e
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_official_list_with_the_configured_differences() {
        let none = BTreeMap::new();
        let all = provinces(&[], &none);
        assert_eq!(all.as_array().unwrap().len(), 34);
        let all = communes(&[], &none, "provinceCode");
        let all = all.as_array().unwrap();
        assert_eq!(all.len(), 3321);
        let first = &all[0];
        assert!(first["communeCode"].is_string() && first["provinceCode"].is_string());
        let official = AdminUnits::get().commune("02215").unwrap();

        let missing = vec!["02215".to_owned(), "08".to_owned()];
        let renamed: BTreeMap<String, String> = [
            ("00004".to_owned(), "Phường Ba Đình (VNPost)".to_owned()),
            ("01".to_owned(), "TP Hà Nội".to_owned()),
        ]
        .into();
        let ps = provinces(&missing, &renamed);
        let ps = ps.as_array().unwrap();
        assert_eq!(ps.len(), 33);
        assert!(!ps.iter().any(|p| p["provinceCode"] == "08"));
        let hn = ps.iter().find(|p| p["provinceCode"] == "01").unwrap();
        assert_eq!(hn["provinceName"], "TP Hà Nội");

        let cs = communes(&missing, &renamed, "districtCode");
        let cs = cs.as_array().unwrap();
        assert_eq!(cs.len(), 3320);
        assert!(
            !cs.iter()
                .any(|c| c["communeCode"] == official.code.as_str())
        );
        let renamed_one = cs.iter().find(|c| c["communeCode"] == "00004").unwrap();
        assert_eq!(renamed_one["communeName"], "Phường Ba Đình (VNPost)");
        assert_eq!(renamed_one["districtCode"], "01");
        assert!(renamed_one.get("provinceCode").is_none());
    }
}
