//! VNPost's own address catalogue (`getNewProvinceAll`, `getNewCommuneAll`) against the
//! official 2025 list and the configured offices: what `bcci-gateway carrier check` reports.
//! Whether VNPost's codes equal the official ones is not confirmed (SPEC §5), so the gateway
//! checks rather than assumes. [`compare`] is pure; [`check`] asks the carrier.

use super::{Carrier, CarrierError, CatalogueCommune, CatalogueProvince};
use crate::config::Office;
use crate::domain::admin_units::AdminUnits;
use std::collections::HashMap;

/// How one configured office's commune reads in VNPost's catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficeCheck {
    pub office_code: String,
    /// The official 2025 code in the configuration.
    pub commune_code: String,
    pub official_name: String,
    /// The code sent to VNPost (after `carrier.commune_codes`).
    pub vnpost_code: String,
    /// VNPost's name for it; `None`: VNPost does not know the code.
    pub vnpost_name: Option<String>,
}

/// An official unit that VNPost lacks, names differently, or files under another province.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    ProvinceMissing {
        code: String,
        name: String,
    },
    ProvinceRenamed {
        code: String,
        name: String,
        vnpost_name: String,
    },
    CommuneMissing {
        code: String,
        name: String,
        vnpost_code: String,
    },
    CommuneRenamed {
        code: String,
        name: String,
        vnpost_code: String,
        vnpost_name: String,
    },
    CommuneElsewhere {
        code: String,
        name: String,
        province_code: String,
        vnpost_code: String,
        vnpost_province_code: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub vnpost_provinces: usize,
    pub vnpost_communes: usize,
    pub offices: Vec<OfficeCheck>,
    pub differences: Vec<Difference>,
}

impl Report {
    /// Offices whose own commune VNPost does not know: every order for them would be refused.
    pub fn unknown_offices(&self) -> impl Iterator<Item = &OfficeCheck> {
        self.offices.iter().filter(|o| o.vnpost_name.is_none())
    }
}

/// Names compared as people read them: case, spacing and Unicode composition aside.
fn same_name(a: &str, b: &str) -> bool {
    use unicode_normalization::UnicodeNormalization;
    let norm = |s: &str| {
        s.nfc()
            .collect::<String>()
            .to_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    norm(a) == norm(b)
}

/// Compares the official list (`units`), mapped to VNPost's codes by `to_vnpost`, and the
/// offices with VNPost's catalogue.
pub fn compare(
    units: &AdminUnits,
    to_vnpost: impl Fn(&str) -> String,
    offices: &[Office],
    provinces: &[CatalogueProvince],
    communes: &[CatalogueCommune],
) -> Report {
    let vn_provinces: HashMap<&str, &CatalogueProvince> =
        provinces.iter().map(|p| (p.code.as_str(), p)).collect();
    let vn_communes: HashMap<&str, &CatalogueCommune> =
        communes.iter().map(|c| (c.code.as_str(), c)).collect();
    let mut differences = Vec::new();
    for p in units.provinces_sorted() {
        match vn_provinces.get(p.code.as_str()) {
            None => differences.push(Difference::ProvinceMissing {
                code: p.code.clone(),
                name: p.name.clone(),
            }),
            Some(v) if !same_name(&v.name, &p.name) => {
                differences.push(Difference::ProvinceRenamed {
                    code: p.code.clone(),
                    name: p.name.clone(),
                    vnpost_name: v.name.clone(),
                })
            }
            Some(_) => {}
        }
    }
    for c in units.communes_sorted() {
        let vnpost_code = to_vnpost(&c.code);
        match vn_communes.get(vnpost_code.as_str()) {
            None => differences.push(Difference::CommuneMissing {
                code: c.code.clone(),
                name: c.name.clone(),
                vnpost_code,
            }),
            Some(v) if v.province_code != c.province_code => {
                differences.push(Difference::CommuneElsewhere {
                    code: c.code.clone(),
                    name: c.name.clone(),
                    province_code: c.province_code.clone(),
                    vnpost_code,
                    vnpost_province_code: v.province_code.clone(),
                })
            }
            Some(v) if !same_name(&v.name, &c.name) => {
                differences.push(Difference::CommuneRenamed {
                    code: c.code.clone(),
                    name: c.name.clone(),
                    vnpost_code,
                    vnpost_name: v.name.clone(),
                })
            }
            Some(_) => {}
        }
    }
    let offices = offices
        .iter()
        .map(|o| {
            let code = &o.address.commune_code;
            let vnpost_code = to_vnpost(code);
            OfficeCheck {
                office_code: o.code.clone(),
                commune_code: code.clone(),
                official_name: units
                    .commune(code)
                    .map_or_else(String::new, |c| c.name.clone()),
                vnpost_name: vn_communes
                    .get(vnpost_code.as_str())
                    .map(|c| c.name.clone()),
                vnpost_code,
            }
        })
        .collect();
    Report {
        vnpost_provinces: provinces.len(),
        vnpost_communes: communes.len(),
        offices,
        differences,
    }
}

/// Logs in (with the first call), pulls both catalogues and compares them.
pub async fn check<C: Carrier>(
    carrier: &C,
    config: &crate::config::Config,
    to_vnpost: impl Fn(&str) -> String,
) -> Result<Report, CarrierError> {
    let provinces = carrier.provinces().await?;
    let communes = carrier.communes().await?;
    Ok(compare(
        AdminUnits::get(),
        to_vnpost,
        &config.offices,
        &provinces,
        &communes,
    ))
}

/// Why [`check_configured`] could not compare.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("cannot start the sandbox carrier: {0:#}")]
    Sandbox(anyhow::Error),
    /// The adapter cannot be built from the configuration (the message names the key).
    #[error("{0:#}")]
    Adapter(anyhow::Error),
    #[error("{0}")]
    Carrier(CarrierError),
}

/// [`check`] against the configured carrier, for `carrier check` and `doctor`: with the sandbox
/// carrier, against a sandbox started for the check (and stopped after it). Also returns the
/// address asked.
pub async fn check_configured(
    config: &crate::config::Config,
) -> (url::Url, Result<Report, CheckError>) {
    let mut carrier_cfg = config.carrier.clone();
    let sandbox = match carrier_cfg.kind {
        crate::config::CarrierKind::Sandbox => {
            let started = async {
                let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
                let mut sb_cfg = carrier_cfg.sandbox.clone();
                sb_cfg.push_url = None;
                super::sandbox::start(sb_cfg, listener).await
            }
            .await;
            match started {
                Ok(sb) => {
                    carrier_cfg.base_url = sb.base_url();
                    Some(sb)
                }
                Err(e) => return (carrier_cfg.base_url, Err(CheckError::Sandbox(e))),
            }
        }
        crate::config::CarrierKind::Vnpost => None,
    };
    let result = match super::VnPost::new(&carrier_cfg) {
        Ok(vnpost) => {
            let codes = vnpost.commune_codes();
            check(&vnpost, config, |code| codes.to_vnpost(code).to_owned())
                .await
                .map_err(CheckError::Carrier)
        }
        Err(e) => Err(CheckError::Adapter(e)),
    };
    if let Some(sb) = sandbox {
        sb.stop().await;
    }
    (carrier_cfg.base_url, result)
}

impl std::fmt::Display for Report {
    /// The report as `carrier check` prints it: offices first (what stops orders), then every
    /// difference of the official list.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "VNPost's catalogue: {} provinces, {} communes",
            self.vnpost_provinces, self.vnpost_communes
        )?;
        writeln!(f, "offices:")?;
        for o in &self.offices {
            match &o.vnpost_name {
                Some(name) => writeln!(
                    f,
                    "  ok       {}  commune {} {} = VNPost {} {}",
                    o.office_code, o.commune_code, o.official_name, o.vnpost_code, name
                )?,
                None => writeln!(
                    f,
                    "  UNKNOWN  {}  commune {} {}: VNPost has no commune {}; every order for \
                     this office would be refused (map it in [carrier.commune_codes])",
                    o.office_code, o.commune_code, o.official_name, o.vnpost_code
                )?,
            }
        }
        writeln!(
            f,
            "official 2025 units that VNPost lacks or names differently: {}",
            self.differences.len()
        )?;
        for d in &self.differences {
            match d {
                Difference::ProvinceMissing { code, name } => {
                    writeln!(f, "  province {code} {name}: missing at VNPost")?
                }
                Difference::ProvinceRenamed {
                    code,
                    name,
                    vnpost_name,
                } => writeln!(f, "  province {code} {name}: VNPost says {vnpost_name:?}")?,
                Difference::CommuneMissing {
                    code,
                    name,
                    vnpost_code,
                } => writeln!(
                    f,
                    "  commune {code} {name}: missing at VNPost (looked up as {vnpost_code})"
                )?,
                Difference::CommuneRenamed {
                    code,
                    name,
                    vnpost_code,
                    vnpost_name,
                } => writeln!(
                    f,
                    "  commune {code} {name}: VNPost {vnpost_code} says {vnpost_name:?}"
                )?,
                Difference::CommuneElsewhere {
                    code,
                    name,
                    province_code,
                    vnpost_code,
                    vnpost_province_code,
                } => writeln!(
                    f,
                    "  commune {code} {name}: province {province_code}, but VNPost {vnpost_code} \
                     is in province {vnpost_province_code}"
                )?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn catalogue(units: &AdminUnits) -> (Vec<CatalogueProvince>, Vec<CatalogueCommune>) {
        let provinces = units
            .provinces_sorted()
            .into_iter()
            .map(|p| CatalogueProvince {
                code: p.code.clone(),
                name: p.name.clone(),
            })
            .collect();
        let communes = units
            .communes_sorted()
            .into_iter()
            .map(|c| CatalogueCommune {
                code: c.code.clone(),
                name: c.name.clone(),
                province_code: c.province_code.clone(),
            })
            .collect();
        (provinces, communes)
    }

    #[test]
    fn an_identical_catalogue_has_no_difference() {
        let units = AdminUnits::get();
        let config = Config::from_overlay("").unwrap();
        let (p, c) = catalogue(units);
        let r = compare(units, str::to_owned, &config.offices, &p, &c);
        assert_eq!(r.differences, []);
        assert_eq!((r.vnpost_provinces, r.vnpost_communes), (34, 3321));
        assert_eq!(r.offices.len(), 2);
        assert_eq!(r.unknown_offices().count(), 0);
        assert_eq!(
            r.offices[0].vnpost_name.as_deref(),
            Some(r.offices[0].official_name.as_str())
        );
    }

    #[test]
    fn each_kind_of_difference_is_found_and_nothing_else() {
        let units = AdminUnits::get();
        let config = Config::from_overlay("").unwrap();
        let (mut p, mut c) = catalogue(units);
        let office_commune = config.offices[1].address.commune_code.clone();
        // VNPost lacks the second office's commune, names another differently (and a third
        // only in another case and composition: the same name), files a fourth elsewhere.
        c.retain(|x| x.code != office_commune);
        let renamed = c.iter().position(|x| x.code == "00004").unwrap();
        c[renamed].name = "Phường Khác".into();
        let recased = c.iter().position(|x| x.code == "02215").unwrap();
        c[recased].name = c[recased].name.to_uppercase();
        let moved = c
            .iter()
            .position(|x| x.code == "00007")
            .unwrap_or(renamed + 1);
        let moved_code = c[moved].code.clone();
        c[moved].province_code = "99".into();
        p.retain(|x| x.code != "01");
        let r = compare(units, str::to_owned, &config.offices, &p, &c);
        let kinds: Vec<&str> = r
            .differences
            .iter()
            .map(|d| match d {
                Difference::ProvinceMissing { code, .. } => {
                    assert_eq!(code, "01");
                    "province missing"
                }
                Difference::ProvinceRenamed { .. } => "province renamed",
                Difference::CommuneMissing { code, .. } => {
                    assert_eq!(code, &office_commune);
                    "commune missing"
                }
                Difference::CommuneRenamed {
                    code, vnpost_name, ..
                } => {
                    assert_eq!(
                        (code.as_str(), vnpost_name.as_str()),
                        ("00004", "Phường Khác")
                    );
                    "commune renamed"
                }
                Difference::CommuneElsewhere { code, .. } => {
                    assert_eq!(code, &moved_code);
                    "commune elsewhere"
                }
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "province missing",
                "commune renamed",
                "commune elsewhere",
                "commune missing"
            ]
        );
        let unknown: Vec<_> = r
            .unknown_offices()
            .map(|o| o.office_code.as_str())
            .collect();
        assert_eq!(unknown, [config.offices[1].code.as_str()]);
    }

    #[test]
    fn codes_are_compared_after_the_configured_mapping() {
        let units = AdminUnits::get();
        let config = Config::from_overlay("").unwrap();
        let (p, mut c) = catalogue(units);
        let i = c.iter().position(|x| x.code == "02215").unwrap();
        c[i].code = "V02215".into();
        let plain = compare(units, str::to_owned, &config.offices, &p, &c);
        assert_eq!(plain.unknown_offices().count(), 1);
        let mapped = compare(
            units,
            |code| {
                if code == "02215" {
                    "V02215".into()
                } else {
                    code.to_owned()
                }
            },
            &config.offices,
            &p,
            &c,
        );
        assert_eq!(mapped.unknown_offices().count(), 0);
        assert_eq!(mapped.differences, []);
    }
}
