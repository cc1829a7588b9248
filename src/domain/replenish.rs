//! Replenishment policy (智能补货提醒), pure part: the service level's z, safety stock, the
//! order-up-to level and the suggested order quantity of one SKU, with the numbers that explain
//! it. Callers (`src/inventory/`) gather the forecast, the on-hand and on-order quantities and the
//! SKU's policy; nothing here does I/O, reads the clock or panics.
//!
//! Sources: the inverse standard normal is P. J. Acklam's rational approximation ("An algorithm
//! for computing the inverse normal cumulative distribution function", 2003; relative error
//! below 1.15 × 10⁻⁹). The periodic-review order-up-to policy with safety stock
//! z · σ · √(L + R) is the textbook (R, S) policy (Silver, Pyke & Thomas, *Inventory and
//! Production Management in Supply Chains*, 4th ed., ch. 6). Formulas and conventions are also in
//! docs/stock-intelligence.md, section "Replenishment".

/// What was wrong with the input of a replenishment calculation; each variant names the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReplenishError {
    /// A service level must be strictly between 0 and 100 % (1..=9999 bp).
    #[error("service_level_bp: must be between 1 and 9999 bp (0 % < level < 100 %), got {0}")]
    ServiceLevel(u32),
}

/// The standard normal quantile z with P(Z ≤ z) = `bp` / 10 000, e.g. 9500 bp → 1.6449.
///
/// Acklam's algorithm (see the module doc): a rational function in the central region
/// 0.02425 ≤ p ≤ 0.97575 and one in √(−2 ln p) in each tail; accurate to about 1e-9 relative,
/// far more than the 4 decimals a z table gives. Errors when `bp` is 0 or ≥ 10 000 (z would be
/// ±∞).
pub fn z_for_service_level(bp: u32) -> Result<f64, ReplenishError> {
    if bp == 0 || bp >= 10_000 {
        return Err(ReplenishError::ServiceLevel(bp));
    }
    Ok(inverse_normal_cdf(f64::from(bp) / 10_000.0))
}

/// Acklam's inverse normal CDF for 0 < p < 1 (callers check the range).
fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const P_LOW: f64 = 0.02425;
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < P_LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn z_matches_the_normal_table() {
        // Standard normal table (4 decimals): Φ⁻¹(0.90) = 1.2816, Φ⁻¹(0.95) = 1.6449,
        // Φ⁻¹(0.98) = 2.0537, Φ⁻¹(0.99) = 2.3263, Φ⁻¹(0.999) = 3.0902, Φ⁻¹(0.5) = 0.
        for (bp, z) in [
            (9000, 1.2816),
            (9500, 1.6449),
            (9800, 2.0537),
            (9900, 2.3263),
            (9990, 3.0902),
            (5000, 0.0),
        ] {
            let got = z_for_service_level(bp).unwrap();
            assert!(close(got, z, 5e-5), "{bp} bp: got {got}, table {z}");
        }
        // More digits (R: qnorm(0.95) = 1.644853627, qnorm(0.999) = 3.090232306).
        assert!(close(z_for_service_level(9500).unwrap(), 1.644_853_627, 1e-8));
        assert!(close(z_for_service_level(9990).unwrap(), 3.090_232_306, 1e-8));
    }

    #[test]
    fn z_is_symmetric_and_covers_the_tails() {
        // Φ⁻¹(0.10) = −1.2816; tail region p < 0.02425: Φ⁻¹(0.0001) = −3.7190.
        assert!(close(z_for_service_level(1000).unwrap(), -1.2816, 5e-5));
        assert!(close(z_for_service_level(1).unwrap(), -3.7190, 5e-5));
        assert!(close(z_for_service_level(9999).unwrap(), 3.7190, 5e-5));
        for bp in 1..10_000 {
            let lo = z_for_service_level(bp).unwrap();
            let hi = z_for_service_level(10_000 - bp).unwrap();
            assert!(close(lo, -hi, 1e-8), "{bp}");
        }
    }

    #[test]
    fn z_rejects_0_and_100_percent() {
        assert_eq!(z_for_service_level(0), Err(ReplenishError::ServiceLevel(0)));
        assert_eq!(z_for_service_level(10_000), Err(ReplenishError::ServiceLevel(10_000)));
        let msg = z_for_service_level(12_000).unwrap_err().to_string();
        assert!(msg.starts_with("service_level_bp:"), "{msg}");
    }
}
