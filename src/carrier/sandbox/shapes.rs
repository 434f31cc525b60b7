//! Which of the answer shapes SPEC §5 lists the sandbox uses for each answer.
//!
//! Each way real answers differ is a [`Shape`] with a few variants (numbered from 1, in the
//! order SPEC §5 lists them). By default every answer draws its variants from one seeded
//! generator, so a run is reproducible (same seed, same calls in the same order, same
//! shapes); `shapes = "first"`, `"second"`, … pins every shape to that variant (the last
//! one where a shape has fewer), and `shape_pins` pins single shapes.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One way the carrier's answers differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// `CreateOrder`: 1 the record at the root, 2 under `"data"`.
    CreateOrder,
    /// Error bodies: 1 `{message}`, 2 `{Message}`, 3 `{errorMessage}`,
    /// 4 `{status,timestamp,error,message,path}`.
    Error,
    /// `getOrder`: 1 `[{"results":[…]}]`, 2 `{"results":[…]}`.
    GetOrder,
    /// `GetStatusHistoryOrder`: 1 `{"data":{"statusHistory"}}`, 2 `{"statusHistory"}`,
    /// 3 `[{"itemCode","statusHistory"}]`.
    History,
    /// History entries' time: 1 `createdHour`, 2 `createHour`.
    HistoryHour,
    /// History entries' `statusCode`: 1 a number, 2 text.
    HistoryCode,
    /// `GetListOrder`: 1 `{"results":[…]}`, 2 `[{"results":[…]}]`.
    ListOrder,
    /// `orderCancel`: 1 `{"Type","Message","CaseId"}`, 2 the same in lower case, 3 a list of
    /// 1, 4 a list of 2.
    Cancel,
    /// `orderCorrection/updateCase` (always a list): 1 capitalised keys, 2 lower-case keys.
    UpdateCase,
    /// `ServicesCharge`: 1 a list, 2 `{"data":[…]}`.
    ServicesCharge,
    /// `ServicesCharge` add-on fee key: 1 `vasFee`, 2 `vasfee`.
    VasFee,
    /// `exportListReport`: 1 one PDF for the whole call, 2 one PDF per item.
    Waybills,
    /// `getNewCommuneAll`, the commune's province: 1 `provinceCode`, 2 `districtCode`.
    CommuneProvince,
}

impl Shape {
    pub const ALL: [Shape; 13] = [
        Shape::CreateOrder,
        Shape::Error,
        Shape::GetOrder,
        Shape::History,
        Shape::HistoryHour,
        Shape::HistoryCode,
        Shape::ListOrder,
        Shape::Cancel,
        Shape::UpdateCase,
        Shape::ServicesCharge,
        Shape::VasFee,
        Shape::Waybills,
        Shape::CommuneProvince,
    ];

    /// How many variants this shape has.
    pub fn variants(self) -> u8 {
        match self {
            Shape::Error | Shape::Cancel => 4,
            Shape::History => 3,
            _ => 2,
        }
    }
}

/// `shapes`: drawn at random (seeded), or every shape pinned to its n-th variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShapeMode {
    Random,
    First,
    Second,
    Third,
    Fourth,
}

impl ShapeMode {
    fn pinned(self) -> Option<u8> {
        match self {
            ShapeMode::Random => None,
            ShapeMode::First => Some(1),
            ShapeMode::Second => Some(2),
            ShapeMode::Third => Some(3),
            ShapeMode::Fourth => Some(4),
        }
    }
}

/// A pin of one shape to one variant (1-based), checked against the shape's variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Variant(u8);

impl TryFrom<u8> for Variant {
    type Error = String;
    fn try_from(n: u8) -> Result<Self, String> {
        if (1..=4).contains(&n) {
            Ok(Variant(n))
        } else {
            Err(format!("{n} is not a shape variant (1 to 4)"))
        }
    }
}

impl From<Variant> for u8 {
    fn from(v: Variant) -> u8 {
        v.0
    }
}

/// Pins of single shapes, e.g. `{ history = 3, error = 4 }`.
pub type ShapePins = BTreeMap<Shape, Variant>;

/// Checks that every pin names a variant its shape has.
pub fn check_pins(pins: &ShapePins) -> Result<(), String> {
    for (shape, v) in pins {
        if v.0 > shape.variants() {
            return Err(format!(
                "shape_pins.{}: {} has only {} variants",
                serde_json::to_value(shape)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                v.0,
                shape.variants()
            ));
        }
    }
    Ok(())
}

/// Draws the variants: one generator for shapes only, so that other randomness (journeys,
/// faults, tokens) does not move the sequence.
pub struct Picker {
    rng: StdRng,
}

impl Picker {
    pub fn new(seed: u64) -> Self {
        Picker {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// The variant (1-based) of `shape` for the next answer.
    pub fn pick(&mut self, shape: Shape, mode: ShapeMode, pins: &ShapePins) -> u8 {
        let n = shape.variants();
        if let Some(v) = pins.get(&shape) {
            return v.0.min(n);
        }
        match mode.pinned() {
            Some(v) => v.min(n),
            None => self.rng.random_range(1..=n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_variant_of_every_shape_is_drawn() {
        let mut p = Picker::new(1);
        let none = ShapePins::new();
        for shape in Shape::ALL {
            let seen: BTreeSet<u8> = (0..200)
                .map(|_| p.pick(shape, ShapeMode::Random, &none))
                .collect();
            assert_eq!(seen, (1..=shape.variants()).collect(), "{shape:?}");
        }
    }

    #[test]
    fn the_same_seed_draws_the_same_sequence() {
        let none = ShapePins::new();
        let draw = |seed| {
            let mut p = Picker::new(seed);
            (0..50)
                .map(|i| p.pick(Shape::ALL[i % Shape::ALL.len()], ShapeMode::Random, &none))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
    }

    #[test]
    fn pins_win_and_modes_clamp_to_the_last_variant() {
        let mut p = Picker::new(1);
        let none = ShapePins::new();
        assert_eq!(p.pick(Shape::Error, ShapeMode::Fourth, &none), 4);
        assert_eq!(p.pick(Shape::History, ShapeMode::Fourth, &none), 3);
        assert_eq!(p.pick(Shape::GetOrder, ShapeMode::Second, &none), 2);
        let pins: ShapePins = [(Shape::History, Variant(3))].into();
        for _ in 0..20 {
            assert_eq!(p.pick(Shape::History, ShapeMode::Random, &pins), 3);
            assert_eq!(p.pick(Shape::History, ShapeMode::First, &pins), 3);
        }
    }

    #[test]
    fn pins_are_checked() {
        let pins: ShapePins =
            serde_json::from_str(r#"{"history": 3, "error": 4, "cancel": 1}"#).unwrap();
        check_pins(&pins).unwrap();
        let pins: ShapePins = serde_json::from_str(r#"{"history": 4}"#).unwrap();
        assert!(check_pins(&pins).unwrap_err().contains("history"));
        assert!(serde_json::from_str::<ShapePins>(r#"{"history": 0}"#).is_err());
        assert!(serde_json::from_str::<ShapePins>(r#"{"histry": 1}"#).is_err());
        assert_eq!(
            serde_json::from_str::<ShapeMode>(r#""second""#).unwrap(),
            ShapeMode::Second
        );
    }
}
