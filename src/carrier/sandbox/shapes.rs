//! Which of the answer shapes SPEC §5 lists the sandbox uses for each answer: the shapes and
//! their pins are configuration (`config::sandbox`); here the seeded generator draws them, so
//! a run is reproducible (same seed, same calls in the same order, same shapes).

pub use crate::config::{Shape, ShapeMode, ShapePins, Variant, check_pins};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

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
            return v.get().min(n);
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
        let pins: ShapePins = [(Shape::History, Variant::try_from(3).unwrap())].into();
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
