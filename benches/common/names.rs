//! Realistic Vietnamese names for the benchmarks (issue 12 §3): a ledger's names share a few
//! family names (Nguyễn alone is about 4 in 10), which is what the trigram index and the name
//! search have to cope with. One list, used both by the load generators in Rust ([`full_name`])
//! and by the SQL generator of benches/common/ledger.rs ([`sql_pick`]).
//!
//! Each bench includes this file with `#[path]`; not every bench uses every item.
#![allow(dead_code)]

/// Family names with their share in per mille (the common ones after published surveys; the
/// rest of the thousand spread over less common names).
pub const FAMILY: &[(&str, u32)] = &[
    ("Nguyễn", 380),
    ("Trần", 110),
    ("Lê", 95),
    ("Phạm", 70),
    ("Hoàng", 26),
    ("Huỳnh", 24),
    ("Phan", 45),
    ("Vũ", 20),
    ("Võ", 19),
    ("Đặng", 21),
    ("Bùi", 20),
    ("Đỗ", 14),
    ("Hồ", 13),
    ("Ngô", 13),
    ("Dương", 10),
    ("Lý", 5),
    ("Đinh", 12),
    ("Trương", 12),
    ("Lương", 10),
    ("Trịnh", 10),
    ("Đào", 10),
    ("Mai", 8),
    ("Lâm", 8),
    ("Cao", 8),
    ("Hà", 8),
    ("Tạ", 5),
    ("Nông", 5),
    ("Triệu", 5),
    ("Lưu", 5),
    ("Chu", 5),
    ("Ma", 4),
];

/// Middle names, per mille: Thị for most women, Văn for many men, then a long tail.
pub const MIDDLE: &[(&str, u32)] = &[
    ("Thị", 420),
    ("Văn", 230),
    ("Minh", 45),
    ("Đức", 40),
    ("Ngọc", 40),
    ("Thanh", 40),
    ("Hữu", 30),
    ("Quang", 25),
    ("Thu", 20),
    ("Xuân", 20),
    ("Đình", 20),
    ("Hoài", 15),
    ("Công", 15),
    ("Quốc", 15),
    ("Kim", 15),
    ("Mạnh", 10),
];

/// Given names, equally likely.
pub const GIVEN: &[(&str, u32)] = &[
    ("An", 1),
    ("Bình", 1),
    ("Cường", 1),
    ("Dũng", 1),
    ("Dung", 1),
    ("Giang", 1),
    ("Hà", 1),
    ("Hải", 1),
    ("Hạnh", 1),
    ("Hằng", 1),
    ("Hiền", 1),
    ("Hiếu", 1),
    ("Hoa", 1),
    ("Hòa", 1),
    ("Hoàng", 1),
    ("Hồng", 1),
    ("Huệ", 1),
    ("Hùng", 1),
    ("Hương", 1),
    ("Huy", 1),
    ("Khánh", 1),
    ("Khuê", 1),
    ("Lan", 1),
    ("Linh", 1),
    ("Long", 1),
    ("Mai", 1),
    ("Minh", 1),
    ("My", 1),
    ("Nam", 1),
    ("Nga", 1),
    ("Ngọc", 1),
    ("Nhung", 1),
    ("Oanh", 1),
    ("Phúc", 1),
    ("Phương", 1),
    ("Quân", 1),
    ("Quang", 1),
    ("Sơn", 1),
    ("Tâm", 1),
    ("Thảo", 1),
    ("Thắng", 1),
    ("Thanh", 1),
    ("Thủy", 1),
    ("Tiến", 1),
    ("Trang", 1),
    ("Trung", 1),
    ("Tuấn", 1),
    ("Tùng", 1),
    ("Tuyết", 1),
    ("Vân", 1),
    ("Việt", 1),
    ("Vinh", 1),
    ("Xuân", 1),
    ("Yến", 1),
    ("Đạt", 1),
    ("Đông", 1),
    ("Ánh", 1),
    ("Ân", 1),
    ("Chi", 1),
    ("Diệp", 1),
];

/// splitmix64: a cheap, well-mixed hash, so that the names are a function of the request
/// number alone (the same run gives the same names) without a random generator.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn pick(list: &'static [(&'static str, u32)], h: u64) -> &'static str {
    let total: u64 = list.iter().map(|&(_, w)| u64::from(w)).sum();
    let mut at = h % total;
    for &(name, w) in list {
        if at < u64::from(w) {
            return name;
        }
        at -= u64::from(w);
    }
    unreachable!("the weights add up to the total")
}

/// The name of request `n`: family, middle and given name, each drawn by its weight.
pub fn full_name(n: u64) -> String {
    let h = mix(n);
    format!(
        "{} {} {}",
        pick(FAMILY, h),
        pick(MIDDLE, mix(h ^ 1)),
        pick(GIVEN, mix(h ^ 2))
    )
}

/// A mobile number for request `n` (0 + 9 digits, a Viettel/Vina/Mobi prefix).
pub fn phone(n: u64) -> String {
    const PREFIXES: [&str; 10] = ["91", "94", "98", "97", "96", "86", "88", "90", "93", "70"];
    let h = mix(n ^ 0x5A5A);
    format!(
        "0{}{:07}",
        PREFIXES[(h % 10) as usize],
        (h >> 8) % 10_000_000
    )
}

/// SQL for one name of `list` drawn by weight, given `r`, an SQL expression uniform in [0, 1):
/// the names repeated by weight in an array literal, indexed by `r`.
pub fn sql_pick(list: &[(&str, u32)], r: &str) -> String {
    let mut items = Vec::new();
    for &(name, w) in list {
        let quoted = format!("'{}'", name.replace('\'', "''"));
        items.extend(std::iter::repeat_n(quoted, w as usize));
    }
    format!(
        "(ARRAY[{}]::text[])[1 + floor({r} * {})::int]",
        items.join(","),
        items.len()
    )
}
