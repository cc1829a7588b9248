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

use crate::domain::abc::AbcClass;

/// What was wrong with the input of a replenishment calculation; each variant names the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReplenishError {
    /// A service level must be strictly between 0 and 100 % (1..=9999 bp).
    #[error("service_level_bp: must be between 1 and 9999 bp (0 % < level < 100 %), got {0}")]
    ServiceLevel(u32),
    /// A count or a number of days below zero.
    #[error("{field}: negative value {value}")]
    Negative {
        /// The field, e.g. `lead_time_days`.
        field: &'static str,
        /// The value given.
        value: i64,
    },
    /// Pack size 0 (orders are whole packs).
    #[error("pack_size: must be at least 1, got 0")]
    ZeroPackSize,
    /// A rate that is NaN, infinite or negative.
    #[error("{field}: must be a finite number ≥ 0, got {value}")]
    BadNumber {
        /// The field, e.g. `forecast_per_day`.
        field: &'static str,
        /// The value given.
        value: f64,
    },
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

/// The default target service level of an ABC class, bp: A 98 %, B 95 %, C 90 % (the issue's
/// defaults; a SKU's own `service_level_bp` overrides it).
pub fn default_service_level_bp(class: AbcClass) -> u32 {
    match class {
        AbcClass::A => 9800,
        AbcClass::B => 9500,
        AbcClass::C => 9000,
    }
}

/// Replenishment parameters of one SKU (its supplier lives with the purchase-order code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SkuPolicy {
    /// Days from placing an order to its delivery (L). Signed so that a bad config value is
    /// reported, not wrapped: negative → [`ReplenishError::Negative`].
    pub lead_time_days: i32,
    /// Days between two order reviews (R); 1 for a daily job.
    pub review_period_days: i32,
    /// Units per pack; orders are whole packs. 0 → [`ReplenishError::ZeroPackSize`].
    pub pack_size: u32,
    /// Minimum order quantity in units (0 = none); applies only to an order that is placed.
    pub moq: u32,
    /// Target service level (cycle service level) in bp, 1..=9999; see
    /// [`default_service_level_bp`] for the per-ABC-class default.
    pub service_level_bp: u32,
}

/// What the suggestion is computed from, for one SKU on the day of the review.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DemandInput {
    /// Forecast demand per day, units (f64, ≥ 0): the forecast module's level for the next days.
    pub forecast_per_day: f64,
    /// σ: the one-step (one-day-ahead) forecast error, as the RMSE of the one-step errors over
    /// the fitting history, units per day (f64, ≥ 0).
    pub forecast_error_per_day: f64,
    /// Units on hand now; may be negative (sold before a receipt was booked).
    pub on_hand: i64,
    /// Units on open purchase orders, not yet received (≥ 0).
    pub on_order: i64,
}

/// The numbers behind a [`Suggestion`], so a manager can check it by hand.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Explanation {
    /// The forecast per day used.
    pub forecast_per_day: f64,
    /// σ used (one-step RMSE per day).
    pub forecast_error_per_day: f64,
    /// L + R, the days the order must cover.
    pub cover_days: i64,
    /// Forecast over L + R, rounded up to whole units.
    pub cycle_demand: i64,
    /// The service level's z.
    pub z: f64,
    /// On hand, as given.
    pub on_hand: i64,
    /// On order, as given.
    pub on_order: i64,
    /// Pack size, as in the policy.
    pub pack_size: u32,
    /// MOQ, as in the policy.
    pub moq: u32,
}

/// The replenishment suggestion of one SKU; all quantities in whole units.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Suggestion {
    /// ⌈z · σ · √(L + R)⌉, never negative.
    pub safety_stock: i64,
    /// Order-up-to level S = cycle demand + safety stock.
    pub order_up_to: i64,
    /// S − on hand − on order, before rounding (may be negative).
    pub raw_qty: i64,
    /// What to order: 0 when `raw_qty` ≤ 0, else `raw_qty` (at least the MOQ) rounded up to
    /// whole packs.
    pub suggested_qty: i64,
    /// Day (0 = today) on which the forecast demand can first not be met; `None` with zero
    /// forecast demand. See [`suggest`] for the arrival convention.
    pub projected_stockout_day: Option<u32>,
    /// Stock-out projected before an order placed today can arrive (day < L).
    pub urgent: bool,
    /// The inputs and intermediate numbers.
    pub explanation: Explanation,
}

impl Suggestion {
    /// One line for the suggestion list, e.g. `forecast 10.00/day × 7 d = 70 + safety stock 18
    /// (z 1.645 × σ 4.00 × √7) = order-up-to 88 − on hand 20 − on order 0 = 68 → order 72
    /// (pack 12, MOQ 0)`.
    pub fn explain(&self) -> String {
        let e = &self.explanation;
        format!(
            "forecast {:.2}/day × {} d = {} + safety stock {} (z {:.3} × σ {:.2} × √{}) = \
             order-up-to {} − on hand {} − on order {} = {} → order {} (pack {}, MOQ {})",
            e.forecast_per_day,
            e.cover_days,
            e.cycle_demand,
            self.safety_stock,
            e.z,
            e.forecast_error_per_day,
            e.cover_days,
            self.order_up_to,
            e.on_hand,
            e.on_order,
            self.raw_qty,
            self.suggested_qty,
            e.pack_size,
            e.moq
        )
    }
}

/// Rounds a non-negative quantity up to whole units, forgiving float noise of 1e-9
/// (7 × 10.0 stays 70, 0.3 × 7 = 2.0999… becomes 3). Saturates instead of overflowing.
fn ceil_units(x: f64) -> i64 {
    if x <= 0.0 {
        return 0;
    }
    (x - 1e-9).ceil() as i64
}

fn check_number(field: &'static str, value: f64) -> Result<(), ReplenishError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(ReplenishError::BadNumber { field, value })
    }
}

/// The replenishment suggestion for one SKU under the periodic-review order-up-to policy.
///
/// - **Safety stock** = z · σ · √(L + R), rounded up, never negative (levels below 50 % give
///   z < 0 and then 0). σ is the one-step (per-day) forecast RMSE; the √ rule assumes the daily
///   errors are independent with the same variance, so the error of the total over L + R days has
///   standard deviation σ · √(L + R). The horizon is L + R because an order placed now must last
///   until the order after next arrives.
/// - **Cycle demand** = ⌈forecast · (L + R)⌉; **order-up-to** S = cycle demand + safety stock
///   (each part rounded up on its own so that the explanation adds up).
/// - **Suggested quantity**: raw = S − on hand − on order; 0 when raw ≤ 0, else
///   max(raw, MOQ) rounded up to a multiple of the pack size (so an MOQ that is not whole packs is
///   itself rounded up).
/// - **Projected stock-out day** (forecast d > 0): on hand lasts ⌊on hand / d⌋ days (day k's
///   demand cannot be met when d · (k + 1) > on hand; on hand ≤ 0 → day 0). Goods on order are
///   assumed to arrive, at the latest, with the lead time, at the start of day L: if on hand runs
///   out before day L that is the stock-out day, else the stock-out day is
///   ⌊(on hand + on order) / d⌋. **Urgent** = stock-out day < L, i.e. before an order placed
///   today can arrive (this can be urgent with a suggested quantity of 0 when on order covers
///   the need but comes too late: expedite it).
pub fn suggest(policy: &SkuPolicy, input: &DemandInput) -> Result<Suggestion, ReplenishError> {
    if policy.lead_time_days < 0 {
        return Err(ReplenishError::Negative {
            field: "lead_time_days",
            value: i64::from(policy.lead_time_days),
        });
    }
    if policy.review_period_days < 0 {
        return Err(ReplenishError::Negative {
            field: "review_period_days",
            value: i64::from(policy.review_period_days),
        });
    }
    if policy.pack_size == 0 {
        return Err(ReplenishError::ZeroPackSize);
    }
    let z = z_for_service_level(policy.service_level_bp)?;
    check_number("forecast_per_day", input.forecast_per_day)?;
    check_number("forecast_error_per_day", input.forecast_error_per_day)?;
    if input.on_order < 0 {
        return Err(ReplenishError::Negative {
            field: "on_order",
            value: input.on_order,
        });
    }

    let lead = i64::from(policy.lead_time_days);
    let cover_days = lead + i64::from(policy.review_period_days);
    let cover = cover_days as f64;
    let safety_stock = ceil_units(z * input.forecast_error_per_day * cover.sqrt());
    let cycle_demand = ceil_units(input.forecast_per_day * cover);
    let order_up_to = cycle_demand.saturating_add(safety_stock);
    let raw_qty = order_up_to
        .saturating_sub(input.on_hand)
        .saturating_sub(input.on_order);
    let suggested_qty = if raw_qty <= 0 {
        0
    } else {
        let pack = i64::from(policy.pack_size);
        let want = raw_qty.max(i64::from(policy.moq));
        ((want - 1) / pack).saturating_add(1).saturating_mul(pack)
    };

    let d = input.forecast_per_day;
    let lasts = |stock: i64| -> u32 {
        if stock <= 0 {
            0
        } else {
            // f64 → u32 saturates; d > 0 here.
            (stock as f64 / d).floor() as u32
        }
    };
    let projected_stockout_day = if d > 0.0 {
        let on_hand_day = lasts(input.on_hand);
        if i64::from(on_hand_day) < lead {
            Some(on_hand_day)
        } else {
            Some(lasts(input.on_hand.saturating_add(input.on_order)))
        }
    } else {
        None
    };
    let urgent = projected_stockout_day.is_some_and(|day| i64::from(day) < lead);

    Ok(Suggestion {
        safety_stock,
        order_up_to,
        raw_qty,
        suggested_qty,
        projected_stockout_day,
        urgent,
        explanation: Explanation {
            forecast_per_day: input.forecast_per_day,
            forecast_error_per_day: input.forecast_error_per_day,
            cover_days,
            cycle_demand,
            z,
            on_hand: input.on_hand,
            on_order: input.on_order,
            pack_size: policy.pack_size,
            moq: policy.moq,
        },
    })
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
        assert!(close(
            z_for_service_level(9500).unwrap(),
            1.644_853_627,
            1e-8
        ));
        assert!(close(
            z_for_service_level(9990).unwrap(),
            3.090_232_306,
            1e-8
        ));
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
        assert_eq!(
            z_for_service_level(10_000),
            Err(ReplenishError::ServiceLevel(10_000))
        );
        let msg = z_for_service_level(12_000).unwrap_err().to_string();
        assert!(msg.starts_with("service_level_bp:"), "{msg}");
    }

    fn policy(l: i32, r: i32, pack: u32, moq: u32, bp: u32) -> SkuPolicy {
        SkuPolicy {
            lead_time_days: l,
            review_period_days: r,
            pack_size: pack,
            moq,
            service_level_bp: bp,
        }
    }

    fn input(d: f64, sigma: f64, on_hand: i64, on_order: i64) -> DemandInput {
        DemandInput {
            forecast_per_day: d,
            forecast_error_per_day: sigma,
            on_hand,
            on_order,
        }
    }

    #[test]
    fn suggestion_table() {
        // Hand computations (z from the table above):
        // A: d 10, σ 4, L 4 + R 3 = 7, 95 %: SS = 1.64485 × 4 × √7 (2.64575) = 17.407 → 18;
        //    cycle 10 × 7 = 70; S = 88. On hand 20 lasts ⌊20/10⌋ = 2 days < L 4 → urgent.
        // B: d 2.5, σ 1.5, L 7 + R 7 = 14, 98 %: SS = 2.05375 × 1.5 × √14 (3.74166) = 11.527
        //    → 12; cycle 35; S = 47. On hand 10 lasts 4 days < 7 → urgent.
        // C: d 3, σ 2, L 0 + R 1, 90 %: SS = 1.28155 × 2 × 1 = 2.563 → 3; cycle 3; S = 6.
        // D: d 0.3, σ 0.5, L 5 + R 2, 95 %: SS = 1.64485 × 0.5 × √7 = 2.176 → 3;
        //    cycle 0.3 × 7 = 2.1 → 3; S = 6.
        #[rustfmt::skip]
        let cases: [(&str, SkuPolicy, DemandInput, i64, i64, i64, i64, Option<u32>, bool); 11] = [
            // name, policy, input, SS, S, raw, suggested, stock-out day, urgent
            ("A plain", policy(4, 3, 1, 0, 9500), input(10.0, 4.0, 20, 0), 18, 88, 68, 68, Some(2), true),
            // 68 → 6 packs of 12 = 72.
            ("A pack 12", policy(4, 3, 12, 0, 9500), input(10.0, 4.0, 20, 0), 18, 88, 68, 72, Some(2), true),
            // MOQ 50 below the need: 68.
            ("A MOQ 50", policy(4, 3, 1, 50, 9500), input(10.0, 4.0, 20, 0), 18, 88, 68, 68, Some(2), true),
            // MOQ 100 with pack 12: max(68, 100) = 100 → 9 packs = 108.
            ("A MOQ 100 pack 12", policy(4, 3, 12, 100, 9500), input(10.0, 4.0, 20, 0), 18, 88, 68, 108, Some(2), true),
            // On order covers: 88 − 50 − 40 = −2 → 0. On hand lasts 5 ≥ L 4, then
            // ⌊(50 + 40)/10⌋ = 9.
            ("A on order covers", policy(4, 3, 12, 100, 9500), input(10.0, 4.0, 50, 40), 18, 88, -2, 0, Some(9), false),
            // On order covers the need but on hand (30) lasts only 3 days < 4: urgent, order 0.
            ("A on order late", policy(4, 3, 1, 0, 9500), input(10.0, 4.0, 30, 60), 18, 88, -2, 0, Some(3), true),
            // Negative on hand −5: raw 88 + 5 = 93; out already (day 0).
            ("A negative on hand", policy(4, 3, 1, 0, 9500), input(10.0, 4.0, -5, 0), 18, 88, 93, 93, Some(0), true),
            // Zero demand, zero error: nothing to cover, MOQ not applied, no stock-out.
            ("zero demand", policy(4, 3, 6, 24, 9500), input(0.0, 0.0, 5, 0), 0, 0, -5, 0, None, false),
            // B: raw 47 − 10 − 12 = 25 → 5 packs of 6 = 30.
            ("B 98 % pack 6", policy(7, 7, 6, 0, 9800), input(2.5, 1.5, 10, 12), 12, 47, 25, 30, Some(4), true),
            // C: on hand 6 = S → 0; lead 0: lasts ⌊6/3⌋ = 2 days, never urgent.
            ("C lead 0", policy(0, 1, 1, 0, 9000), input(3.0, 2.0, 6, 0), 3, 6, 0, 0, Some(2), false),
            // D: raw 6 − 1 = 5 → MOQ 10; on hand 1 lasts ⌊1/0.3⌋ = 3 < 5.
            ("D slow, MOQ 10", policy(5, 2, 1, 10, 9500), input(0.3, 0.5, 1, 0), 3, 6, 5, 10, Some(3), true),
        ];
        for (name, p, i, ss, s, raw, qty, day, urgent) in cases {
            let got = suggest(&p, &i).unwrap();
            assert_eq!(
                (
                    got.safety_stock,
                    got.order_up_to,
                    got.raw_qty,
                    got.suggested_qty
                ),
                (ss, s, raw, qty),
                "{name}"
            );
            assert_eq!(got.projected_stockout_day, day, "{name}");
            assert_eq!(got.urgent, urgent, "{name}");
            assert_eq!(
                got.explanation.cycle_demand + got.safety_stock,
                got.order_up_to,
                "{name}"
            );
        }
    }

    #[test]
    fn explanation_reads_as_the_sum() {
        let got = suggest(&policy(4, 3, 12, 0, 9500), &input(10.0, 4.0, 20, 0)).unwrap();
        assert_eq!(
            got.explain(),
            "forecast 10.00/day × 7 d = 70 + safety stock 18 (z 1.645 × σ 4.00 × √7) = \
             order-up-to 88 − on hand 20 − on order 0 = 68 → order 72 (pack 12, MOQ 0)"
        );
    }

    #[test]
    fn low_service_level_gives_no_negative_safety_stock() {
        // 30 %: z = −0.524 → SS 0; S = cycle 70.
        let got = suggest(&policy(4, 3, 1, 0, 3000), &input(10.0, 4.0, 0, 0)).unwrap();
        assert_eq!((got.safety_stock, got.order_up_to), (0, 70));
    }

    #[test]
    fn huge_numbers_saturate_instead_of_panicking() {
        let got = suggest(
            &policy(i32::MAX, i32::MAX, 7, u32::MAX, 9999),
            &input(1e300, 1e300, i64::MIN, 0),
        )
        .unwrap();
        assert!(got.suggested_qty > 0);
        let got = suggest(
            &policy(1, 1, 1, 0, 9500),
            &input(1e-300, 0.0, i64::MAX, i64::MAX),
        )
        .unwrap();
        assert_eq!(got.projected_stockout_day, Some(u32::MAX));
    }

    #[test]
    fn default_service_levels_per_abc_class() {
        // A 98 % → z 2.0537, B 95 % → 1.6449, C 90 % → 1.2816.
        assert_eq!(default_service_level_bp(AbcClass::A), 9800);
        assert_eq!(default_service_level_bp(AbcClass::B), 9500);
        assert_eq!(default_service_level_bp(AbcClass::C), 9000);
        let z = z_for_service_level(default_service_level_bp(AbcClass::A)).unwrap();
        assert!(close(z, 2.0537, 5e-5));
    }

    #[test]
    fn bad_input_names_the_field() {
        let ok_p = policy(4, 3, 1, 0, 9500);
        let ok_i = input(10.0, 4.0, 20, 0);
        let err = |p: SkuPolicy, i: DemandInput| suggest(&p, &i).unwrap_err().to_string();
        assert_eq!(
            err(policy(-2, 3, 1, 0, 9500), ok_i),
            "lead_time_days: negative value -2"
        );
        assert_eq!(
            err(policy(4, -1, 1, 0, 9500), ok_i),
            "review_period_days: negative value -1"
        );
        assert_eq!(
            err(policy(4, 3, 0, 0, 9500), ok_i),
            "pack_size: must be at least 1, got 0"
        );
        assert!(err(policy(4, 3, 1, 0, 10_000), ok_i).starts_with("service_level_bp:"));
        assert!(err(policy(4, 3, 1, 0, 0), ok_i).starts_with("service_level_bp:"));
        assert_eq!(
            err(ok_p, input(f64::NAN, 4.0, 20, 0)),
            "forecast_per_day: must be a finite number ≥ 0, got NaN"
        );
        assert_eq!(
            err(ok_p, input(10.0, -1.0, 20, 0)),
            "forecast_error_per_day: must be a finite number ≥ 0, got -1"
        );
        assert!(err(ok_p, input(f64::INFINITY, 4.0, 20, 0)).starts_with("forecast_per_day:"));
        assert_eq!(
            err(ok_p, input(10.0, 4.0, 20, -3)),
            "on_order: negative value -3"
        );
    }
}
