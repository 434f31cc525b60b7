//! The one place where official 2025 commune codes become VNPost's (a pure table, read from
//! `carrier.commune_codes` and checked with the configuration).
//!
//! SPEC §5: whether VNPost's commune codes equal the official ones is not confirmed. Every
//! code the adapter sends (`CreateOrder`, `ServicesCharge`) goes through [`CommuneCodes`]:
//! the official code itself, unless `carrier.commune_codes` maps it to another. The
//! `carrier check` command reads VNPost's catalogue back through the same mapping.

use super::admin_units::AdminUnits;
use std::collections::BTreeMap;

/// Official 2025 commune code → VNPost's code; identity unless overridden.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommuneCodes {
    to_vnpost: BTreeMap<String, String>,
    to_official: BTreeMap<String, String>,
}

impl CommuneCodes {
    /// No override: VNPost uses the official codes.
    pub fn identity() -> Self {
        CommuneCodes::default()
    }

    /// From `carrier.commune_codes` (official → VNPost). Refuses a key that is no official
    /// commune (an override that could never apply), a blank or malformed VNPost code, and two
    /// official communes sharing one VNPost code (answers could not be read back).
    pub fn new(overrides: &BTreeMap<String, String>) -> Result<Self, String> {
        let units = AdminUnits::get();
        let mut codes = CommuneCodes::default();
        for (official, vnpost) in overrides {
            let (official, vnpost) = (official.trim(), vnpost.trim());
            if units.commune(official).is_none() {
                return Err(format!(
                    "carrier.commune_codes: {official:?} is not an official 2025 commune code"
                ));
            }
            if vnpost.is_empty()
                || vnpost.len() > 20
                || !vnpost.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return Err(format!(
                    "carrier.commune_codes.{official}: {vnpost:?} is not a VNPost commune code (letters and digits, at most 20)"
                ));
            }
            if let Some(other) = codes.to_official.get(vnpost) {
                return Err(format!(
                    "carrier.commune_codes: {other} and {official} both map to {vnpost}"
                ));
            }
            if official != vnpost {
                codes.to_vnpost.insert(official.into(), vnpost.into());
                codes.to_official.insert(vnpost.into(), official.into());
            }
        }
        Ok(codes)
    }

    /// The code VNPost knows for an official commune code.
    pub fn to_vnpost<'a>(&'a self, official: &'a str) -> &'a str {
        self.to_vnpost
            .get(official)
            .map(String::as_str)
            .unwrap_or(official)
    }

    /// The official code a VNPost commune code stands for: the override's source, else the
    /// code itself (unless that official code is mapped elsewhere: then VNPost's code of the
    /// same digits is another commune, and there is no official code for it).
    pub fn to_official<'a>(&'a self, vnpost: &'a str) -> Option<&'a str> {
        match self.to_official.get(vnpost) {
            Some(official) => Some(official),
            None if self.to_vnpost.contains_key(vnpost) => None,
            None => Some(vnpost),
        }
    }

    /// The overrides, official → VNPost, for `check-config` and `carrier check`.
    pub fn overrides(&self) -> impl Iterator<Item = (&str, &str)> {
        self.to_vnpost.iter().map(|(a, b)| (a.as_str(), b.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn identity_unless_overridden() {
        let c = CommuneCodes::new(&map(&[("02215", "VN02215")])).unwrap();
        assert_eq!(c.to_vnpost("02215"), "VN02215");
        assert_eq!(c.to_vnpost("00691"), "00691");
        assert_eq!(c.to_official("VN02215"), Some("02215"));
        assert_eq!(c.to_official("00691"), Some("00691"));
        // VNPost's "02215" (if it has one) is not the official 02215.
        assert_eq!(c.to_official("02215"), None);
        assert_eq!(c.overrides().collect::<Vec<_>>(), [("02215", "VN02215")]);
        let same = CommuneCodes::new(&map(&[("02215", "02215")])).unwrap();
        assert_eq!(same, CommuneCodes::identity());
    }

    #[test]
    fn bad_overrides_are_refused_naming_the_key() {
        for (pairs, says) in [
            (vec![("99999", "1")], "not an official"),
            (vec![("02215", "")], "carrier.commune_codes.02215"),
            (vec![("02215", "a b")], "carrier.commune_codes.02215"),
            (vec![("02215", "X1"), ("00691", "X1")], "both map to X1"),
        ] {
            let e = CommuneCodes::new(&map(&pairs)).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }
}
