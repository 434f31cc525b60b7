//! The 2025 two-level administrative units (34 provinces, 3,321 communes).
//!
//! `data/admin-units-2025.csv` is the project's own copy of the official list with the General
//! Statistics Office codes, compiled from the `vietnam-provinces` package (2025.10.1) and
//! shipped in `shared/data/` of the project's specification. It is compiled into the binary.

use std::collections::HashMap;
use std::sync::OnceLock;

const CSV: &str = include_str!("../../data/admin-units-2025.csv");

#[derive(Debug)]
pub struct Province {
    pub code: String,
    pub name: String,
}

#[derive(Debug)]
pub struct Commune {
    pub code: String,
    pub name: String,
    pub province_code: String,
}

#[derive(Debug, Default)]
pub struct AdminUnits {
    provinces: HashMap<String, Province>,
    communes: HashMap<String, Commune>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressError {
    UnknownProvince,
    UnknownCommune,
    /// The commune exists but belongs to another province.
    CommuneOutsideProvince,
}

impl AdminUnits {
    /// The embedded list, parsed once.
    pub fn get() -> &'static AdminUnits {
        static UNITS: OnceLock<AdminUnits> = OnceLock::new();
        UNITS.get_or_init(|| Self::parse(CSV).expect("the embedded administrative units are valid"))
    }

    fn parse(text: &str) -> Result<AdminUnits, csv::Error> {
        #[derive(serde::Deserialize)]
        struct Row {
            province_code: String,
            province_name: String,
            commune_code: String,
            commune_name: String,
        }
        let mut units = AdminUnits::default();
        for row in csv::Reader::from_reader(text.as_bytes()).deserialize() {
            let row: Row = row?;
            units
                .provinces
                .entry(row.province_code.clone())
                .or_insert_with(|| Province {
                    code: row.province_code.clone(),
                    name: row.province_name,
                });
            units.communes.insert(
                row.commune_code.clone(),
                Commune {
                    code: row.commune_code,
                    name: row.commune_name,
                    province_code: row.province_code,
                },
            );
        }
        Ok(units)
    }

    pub fn province(&self, code: &str) -> Option<&Province> {
        self.provinces.get(code)
    }

    pub fn commune(&self, code: &str) -> Option<&Commune> {
        self.communes.get(code)
    }

    pub fn check(&self, province_code: &str, commune_code: &str) -> Result<(), AddressError> {
        if self.province(province_code).is_none() {
            return Err(AddressError::UnknownProvince);
        }
        match self.commune(commune_code) {
            None => Err(AddressError::UnknownCommune),
            Some(c) if c.province_code != province_code => {
                Err(AddressError::CommuneOutsideProvince)
            }
            Some(_) => Ok(()),
        }
    }

    /// Every province, by code.
    pub fn provinces_sorted(&self) -> Vec<&Province> {
        let mut all: Vec<&Province> = self.provinces.values().collect();
        all.sort_by(|a, b| a.code.cmp(&b.code));
        all
    }

    /// Every commune, by code.
    pub fn communes_sorted(&self) -> Vec<&Commune> {
        let mut all: Vec<&Commune> = self.communes.values().collect();
        all.sort_by(|a, b| a.code.cmp(&b.code));
        all
    }

    pub fn counts(&self) -> (usize, usize) {
        (self.provinces.len(), self.communes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_counts() {
        assert_eq!(AdminUnits::get().counts(), (34, 3321));
    }

    #[test]
    fn tuyen_quang() {
        let u = AdminUnits::get();
        assert_eq!(u.province("08").unwrap().name, "Tuyên Quang");
        assert_eq!(u.check("08", "02215"), Ok(()));
        assert_eq!(
            u.check("01", "02215"),
            Err(AddressError::CommuneOutsideProvince)
        );
        assert_eq!(u.check("99", "02215"), Err(AddressError::UnknownProvince));
        assert_eq!(u.check("08", "99999"), Err(AddressError::UnknownCommune));
        assert_eq!(u.check("01", "00004"), Ok(()));
    }
}
