//! Derivative-free minimisation shared by the fitted models of `domain` (`clv`'s likelihoods,
//! `forecast`'s Holt-Winters smoothing parameters): Nelder–Mead inside a box, with restarts.
//! Pure numerics, no I/O; callers map their parameters onto the box (logs, logits).
//!
//! Source: Nelder & Mead (1965), "A simplex method for function minimization", with the
//! standard coefficients (reflection 1, expansion 2, contraction ½, shrink ½).

use std::cmp::Ordering;

/// Every coordinate is kept in [−10, 10] (callers' parameters are logs or logits of the model's).
pub const BOX_BOUND: f64 = 10.0;

/// Outcome of a minimisation.
pub struct NmResult {
    /// Best point found.
    pub x: Vec<f64>,
    /// Function value there.
    pub fx: f64,
    /// Iterations used (summed over restarts).
    pub iterations: u32,
    /// Whether the simplex met the convergence test.
    pub converged: bool,
}

fn clamp_box(x: &mut [f64]) {
    for v in x.iter_mut() {
        *v = if v.is_nan() {
            0.0
        } else {
            v.clamp(-BOX_BOUND, BOX_BOUND)
        };
    }
}

/// Nelder–Mead minimisation (reflection 1, expansion 2, contraction ½, shrink ½) inside the box
/// [−BOX_BOUND, BOX_BOUND]ⁿ = [−10, 10]ⁿ: every trial point is projected into the box. Converged when the function values
/// across the simplex differ by ≤ 10⁻¹⁰·(1+|f|) and the simplex is narrower than 10⁻⁷.
fn nelder_mead(
    f: &mut impl FnMut(&[f64]) -> f64,
    start: &[f64],
    step: f64,
    max_iter: u32,
) -> NmResult {
    nelder_mead_tol(f, start, step, max_iter, 1e-10, 1e-7)
}

/// [`nelder_mead`] with its convergence test given: values across the simplex within
/// `ftol`·(1+|f|) and the simplex narrower than `xtol`.
fn nelder_mead_tol(
    f: &mut impl FnMut(&[f64]) -> f64,
    start: &[f64],
    step: f64,
    max_iter: u32,
    ftol: f64,
    xtol: f64,
) -> NmResult {
    let n = start.len();
    if n == 0 {
        // Nothing to move: the only point is the empty one.
        return NmResult {
            x: Vec::new(),
            fx: f(&[]),
            iterations: 0,
            converged: true,
        };
    }
    let mut simplex: Vec<Vec<f64>> = Vec::with_capacity(n + 1);
    let mut s0 = start.to_vec();
    clamp_box(&mut s0);
    simplex.push(s0.clone());
    for i in 0..n {
        let mut p = s0.clone();
        // Step inwards when the start sits on the upper bound.
        p[i] += if p[i] + step > BOX_BOUND {
            -step
        } else {
            step
        };
        clamp_box(&mut p);
        simplex.push(p);
    }
    let mut values: Vec<f64> = simplex.iter().map(|p| f(p)).collect();
    let order = |values: &[f64]| -> Vec<usize> {
        let mut idx: Vec<usize> = (0..values.len()).collect();
        idx.sort_by(|&i, &j| values[i].partial_cmp(&values[j]).unwrap_or(Ordering::Equal));
        idx
    };
    let mut iterations = 0;
    let mut converged = false;
    while iterations < max_iter {
        let idx = order(&values);
        simplex = idx.iter().map(|&i| simplex[i].clone()).collect();
        values = idx.iter().map(|&i| values[i]).collect();
        let (best, worst) = (values[0], values[n]);
        let width = simplex[1..]
            .iter()
            .flat_map(|p| p.iter().zip(&simplex[0]).map(|(a, b)| (a - b).abs()))
            .fold(0.0, f64::max);
        if best.is_finite() && (worst - best) <= ftol * (1.0 + best.abs()) && width <= xtol {
            converged = true;
            break;
        }
        iterations += 1;
        let mut centroid = vec![0.0; n];
        for p in &simplex[..n] {
            for (c, v) in centroid.iter_mut().zip(p) {
                *c += v / n as f64;
            }
        }
        let along = |t: f64| -> Vec<f64> {
            let mut p: Vec<f64> = centroid
                .iter()
                .zip(&simplex[n])
                .map(|(c, w)| c + t * (c - w))
                .collect();
            clamp_box(&mut p);
            p
        };
        let xr = along(1.0);
        let fr = f(&xr);
        if fr < values[0] {
            let xe = along(2.0);
            let fe = f(&xe);
            if fe < fr {
                simplex[n] = xe;
                values[n] = fe;
            } else {
                simplex[n] = xr;
                values[n] = fr;
            }
            continue;
        }
        if fr < values[n - 1] {
            simplex[n] = xr;
            values[n] = fr;
            continue;
        }
        let (xc, fc) = if fr < values[n] {
            let xc = along(0.5);
            let fc = f(&xc);
            (xc, fc)
        } else {
            let xc = along(-0.5);
            let fc = f(&xc);
            (xc, fc)
        };
        if fc < values[n].min(fr) {
            simplex[n] = xc;
            values[n] = fc;
            continue;
        }
        for i in 1..=n {
            let mut p: Vec<f64> = simplex[0]
                .iter()
                .zip(&simplex[i])
                .map(|(b, v)| b + 0.5 * (v - b))
                .collect();
            clamp_box(&mut p);
            values[i] = f(&p);
            simplex[i] = p;
        }
    }
    let idx = order(&values);
    NmResult {
        x: simplex[idx[0]].clone(),
        fx: values[idx[0]],
        iterations,
        converged,
    }
}

/// Nelder–Mead from `start`, then restarted from the best point with a fresh simplex until a
/// restart improves the value by less than 10⁻⁹·(1+|f|) (at most 8 runs of 5 000 iterations).
pub fn minimise_with_restarts(mut f: impl FnMut(&[f64]) -> f64, start: &[f64]) -> NmResult {
    let mut best = nelder_mead(&mut f, start, 1.0, 5_000);
    let mut total = best.iterations;
    for _ in 0..7 {
        let next = nelder_mead(&mut f, &best.x, 0.3, 5_000);
        total += next.iterations;
        let improved = best.fx - next.fx;
        let settled = improved.is_nan() || improved <= 1e-9 * (1.0 + best.fx.abs());
        if next.fx <= best.fx {
            best = next;
        }
        if settled && best.converged {
            break;
        }
    }
    best.iterations = total;
    best
}

/// A cheaper minimisation for fits that need a good point, not the last digit (Holt-Winters'
/// smoothing parameters): Nelder–Mead from `start` (step 1) and one restart from its best point
/// (step 0.3), each stopping when the values across the simplex are within `ftol`·(1+|f|) and
/// the simplex is narrower than `xtol` (at most 2 000 iterations each).
pub fn minimise_coarse(mut f: impl FnMut(&[f64]) -> f64, start: &[f64], ftol: f64, xtol: f64) -> NmResult {
    let first = nelder_mead_tol(&mut f, start, 1.0, 2_000, ftol, xtol);
    let second = nelder_mead_tol(&mut f, &first.x, 0.3, 2_000, ftol, xtol);
    let iterations = first.iterations + second.iterations;
    let mut best = if second.fx <= first.fx { second } else { first };
    best.iterations = iterations;
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64, tol: f64) {
        assert!((got - want).abs() <= tol, "got {got}, want {want} (±{tol})");
    }

    #[test]
    fn nelder_mead_finds_the_rosenbrock_minimum() {
        // f(x, y) = (1−x)² + 100 (y − x²)², minimum 0 at (1, 1), from (−1.2, 1).
        let rosen = |p: &[f64]| (1.0 - p[0]).powi(2) + 100.0 * (p[1] - p[0] * p[0]).powi(2);
        let run = minimise_with_restarts(rosen, &[-1.2, 1.0]);
        assert!(run.converged);
        close(run.x[0], 1.0, 1e-5);
        close(run.x[1], 1.0, 1e-5);
        assert!(run.fx < 1e-10);
        // The box holds: the minimum of (x − 20)² inside [−10, 10] is at 10.
        let run = minimise_with_restarts(|p: &[f64]| (p[0] - 20.0).powi(2), &[0.0]);
        close(run.x[0], BOX_BOUND, 1e-12);
    }
}
