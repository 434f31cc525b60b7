//! The one-stop-shop dossier code (SPEC §1, DOMAIN.md): `V1V2V3.Z1Z2.Y1Y2.MX1X2-YYMMDD-XXXX`,
//! the agency's unit code (QCVN 102:2016), the receipt date and the day's sequence number.
//! The shape is checked; the text is kept as given.

use chrono::NaiveDate;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize,
)]
pub enum DossierCodeError {
    #[error("must look like 000.00.14.H61-230512-0001 (agency code, -YYMMDD-, sequence)")]
    Shape,
    #[error("the receipt date YYMMDD is not a real date")]
    Date,
}

pub fn validate(code: &str) -> Result<(), DossierCodeError> {
    let mut parts = code.split('-');
    let (Some(agency), Some(date), Some(seq), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(DossierCodeError::Shape);
    };
    let groups: Vec<&str> = agency.split('.').collect();
    let agency_ok = groups.len() == 4
        && groups[0].len() == 3
        && groups[1].len() == 2
        && groups[2].len() == 2
        && groups[3].len() == 3
        && groups[..3]
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_digit()))
        && groups[3].as_bytes()[0].is_ascii_uppercase()
        && groups[3].bytes().skip(1).all(|b| b.is_ascii_alphanumeric());
    let seq_ok = (4..=6).contains(&seq.len()) && seq.bytes().all(|b| b.is_ascii_digit());
    if !agency_ok || !seq_ok || date.len() != 6 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DossierCodeError::Shape);
    }
    NaiveDate::parse_from_str(&format!("20{date}"), "%Y%m%d")
        .map_err(|_| DossierCodeError::Date)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted() {
        for c in [
            "000.00.14.H61-230512-0001",
            "000.00.06.H56-251231-12345",
            "123.45.67.G0A-240229-000001",
        ] {
            assert_eq!(validate(c), Ok(()), "{c}");
        }
    }

    #[test]
    fn refused() {
        for c in [
            "",
            "000.00.14.H61",
            "000.00.14.H61-230512",
            "000.00.14.H61-230512-0001-2",
            "00.00.14.H61-230512-0001",
            "000.00.14.h61-230512-0001",
            "000.00.14.H6-230512-0001",
            "000.00.14.H61-2305-0001",
            "000.00.14.H61-230512-001",
            "000.0A.14.H61-230512-0001",
            "000.00.14.H61-230512-00a1",
            " 000.00.14.H61-230512-0001",
            "000.00.14.H61.1-230512-0001",
        ] {
            assert_eq!(validate(c), Err(DossierCodeError::Shape), "{c}");
        }
        assert_eq!(
            validate("000.00.14.H61-231332-0001"),
            Err(DossierCodeError::Date)
        );
        assert_eq!(
            validate("000.00.14.H61-230229-0001"),
            Err(DossierCodeError::Date)
        );
    }
}
