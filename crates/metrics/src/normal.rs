//! The standard normal distribution's upper tail, for the tests' p-values.

/// P(Z > z) for a standard normal Z, like `scipy.stats.norm.sf(z)` (scipy's `ndtr(-z)`):
/// `erfc(z/√2)/2`, relatively accurate far into the upper tail (underflows to 0 past z ≈ 38).
/// NaN in, NaN out; the callers never pass one.
pub fn sf(z: f64) -> f64 {
    0.5 * libm::erfc(z / std::f64::consts::SQRT_2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::{assert_close, cases, f};

    #[test]
    fn agrees_with_scipy() {
        for case in cases("norm_sf") {
            let z = f(&case, "z");
            assert_close(sf(z), f(&case, "sf"), &format!("sf({z})"));
        }
    }

    #[test]
    fn tails_are_complementary_and_decreasing() {
        let zs = [-40.0, -5.0, -1.0, -0.25, 0.0, 0.25, 1.0, 5.0, 40.0];
        for w in zs.windows(2) {
            assert!(sf(w[0]) > sf(w[1]), "{w:?}");
        }
        for z in zs {
            assert!((sf(z) + sf(-z) - 1.0).abs() < 1e-15, "{z}");
        }
        assert_eq!(sf(f64::INFINITY), 0.0);
        assert_eq!(sf(f64::NEG_INFINITY), 1.0);
    }
}
