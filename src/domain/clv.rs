//! Customer-lifetime models: BG/NBD (how many more purchases, is the member still "alive") and
//! Gamma-Gamma (how much a purchase is worth), fitted by maximum likelihood to the store's history.
//!
//! Pure numerics: callers pass one [`Customer`] summary per member (frequency, recency, T in the
//! caller's time unit, mean repeat spend in fen) and get parameters, probabilities and expected
//! values back. No store, no clock, no I/O. The special functions (ln Γ, Gauss ₂F₁) are written here and tested on known values, so the crate stays small.
//!
//! References: Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative
//! to the Pareto/NBD Model" (BG/NBD, eqs. 6 and 10); Fader, Hardie & Lee (2005), "RFM and CLV"
//! and Fader & Hardie's note on the Gamma-Gamma spend model. Formulas and the fitting method are
//! written out in docs/members-analytics.md.

use super::optimize::{minimise_with_restarts, NmResult};

/// Bound on every log-parameter during fitting: each parameter stays in [e^−10, e^10] (after the
/// time or money scaling described on [`fit_bgnbd`] and [`fit_gamma_gamma`]).
pub const LN_PARAM_BOUND: f64 = super::optimize::BOX_BOUND;

/// One customer's calibration summary, in the caller's time unit (days or weeks).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Customer {
    /// x: repeat purchase occasions (occasions after the first).
    pub frequency: u32,
    /// t_x: time from the first to the last purchase (0 when x = 0).
    pub recency: f64,
    /// T: time from the first purchase to the end of the calibration period.
    pub t: f64,
    /// Mean value of the repeat purchases, in fen (Gamma-Gamma); 0 when x = 0.
    pub mean_spend_fen: i64,
}

/// BG/NBD parameters: purchase rates λ ~ Gamma(shape r, rate α), dropout probabilities
/// p ~ Beta(a, b). α is in the caller's time unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BgNbdParams {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// Gamma-Gamma parameters: a transaction's value ~ Gamma(shape p, rate ν), ν ~ Gamma(shape q,
/// rate v). v is in the money unit of the fit (fen for [`fit_gamma_gamma`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaGammaParams {
    pub p: f64,
    pub q: f64,
    pub v: f64,
}

/// A fitted model.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit<P> {
    pub params: P,
    /// Summed log-likelihood of the customers used, at `params`.
    pub log_likelihood: f64,
    /// Customers the fit used.
    pub customers: usize,
    /// False when the optimiser ran out of iterations or a parameter sits on its bound (the
    /// likelihood keeps rising towards the edge: the data do not identify it); `note` says which.
    pub converged: bool,
    /// Nelder–Mead iterations, summed over restarts.
    pub iterations: u32,
    /// Evaluations of the log-likelihood (over every customer) the optimiser made.
    pub evaluations: u32,
    /// Why `converged` is false, for people.
    pub note: Option<String>,
    /// Asymptotic standard errors of `params`, field by field: the observed information (the
    /// Hessian of −ln L in θ = ln params, by central differences at the optimum) inverted, then
    /// SE(p) ≈ p · SE(ln p). `None` when the fit did not converge or that Hessian is not positive
    /// definite (a flat likelihood). They say how far another sample of the same size would move
    /// the estimates: with 5 000 customers over 39 weeks, a and b carry ~10–25 % (tests).
    pub std_errors: Option<P>,
}

/// Why a model could not be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    #[error("no customers to fit")]
    NoCustomers,
    #[error(
        "none of the {customers} customers made a repeat purchase{}; the model cannot be fitted",
        if *.with_spend { " with a positive spend" } else { "" }
    )]
    NoRepeatPurchases { customers: usize, with_spend: bool },
    #[error("customer #{index}: {reason}")]
    InvalidCustomer { index: usize, reason: String },
    #[error(
        "the fit did not converge: {reason} \
         (last parameters {params:?}, log-likelihood {log_likelihood})"
    )]
    DidNotConverge {
        params: Vec<(&'static str, f64)>,
        log_likelihood: f64,
        reason: String,
    },
}

// ---------------------------------------------------------------------------------------------
// BG/NBD
// ---------------------------------------------------------------------------------------------

/// The parts of a customer's log-likelihood that depend only on the parameters and x:
/// ln L = c1 + ln( e^(c2 − (r+x)·ln(α+T)) + [x>0]·e^(c3 − (r+x)·ln(α+t_x)) ).
struct BgParts {
    c1: f64,
    c2: f64,
    c3: f64,
}

impl BgNbdParams {
    fn parts(&self, x: u32, ln_gamma_r: f64, ln_beta_ab: f64) -> BgParts {
        let xf = f64::from(x);
        let (r, a, b) = (self.r, self.a, self.b);
        let ln_g_abx = ln_gamma(a + b + xf);
        BgParts {
            c1: ln_gamma(r + xf) - ln_gamma_r + r * self.alpha.ln() - ln_beta_ab,
            c2: ln_gamma(a) + ln_gamma(b + xf) - ln_g_abx,
            c3: if x > 0 {
                ln_gamma(a + 1.0) + ln_gamma(b + xf - 1.0) - ln_g_abx
            } else {
                0.0
            },
        }
    }

    fn ll_with(&self, parts: &BgParts, x: u32, t_x: f64, t: f64) -> f64 {
        self.ll_with_logs(parts, x, || (self.alpha + t_x).ln(), (self.alpha + t).ln())
    }

    /// [`ll_with`](Self::ll_with) given ln(α + T) and a way to get ln(α + t_x) (needed only when
    /// x > 0): the fit computes them once per distinct time, not once per customer.
    fn ll_with_logs(&self, parts: &BgParts, x: u32, ln_alpha_tx: impl FnOnce() -> f64, ln_alpha_t: f64) -> f64 {
        let rx = self.r + f64::from(x);
        let l1 = parts.c2 - rx * ln_alpha_t;
        if x == 0 {
            return parts.c1 + l1;
        }
        let l2 = parts.c3 - rx * ln_alpha_tx();
        parts.c1 + log_add_exp(l1, l2)
    }

    /// ln L(r, α, a, b | x, t_x, T), Fader, Hardie & Lee (2005) eq. (6):
    ///
    /// ```text
    /// L = B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x))
    ///   + [x>0] · B(a+1, b+x−1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x))
    /// ```
    ///
    /// computed in logs (ln Γ, log-sum-exp) so large x or T neither overflow nor underflow.
    pub fn log_likelihood(&self, c: &Customer) -> f64 {
        let ln_beta_ab = ln_gamma(self.a) + ln_gamma(self.b) - ln_gamma(self.a + self.b);
        let parts = self.parts(c.frequency, ln_gamma(self.r), ln_beta_ab);
        self.ll_with(&parts, c.frequency, c.recency, c.t)
    }

    /// P(alive | x, t_x, T) = 1 / (1 + [x>0] · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x)).
    /// A customer without repeat purchases is alive with probability 1 under BG/NBD (dropout
    /// only happens right after a repeat purchase). Inputs are sanitised as in
    /// [`Self::expected_purchases`]; the result is always in [0, 1].
    pub fn p_alive(&self, x: u32, t_x: f64, t: f64) -> f64 {
        if x == 0 {
            return 1.0;
        }
        let (t_x, t) = sanitise_times(t_x, t);
        let xf = f64::from(x);
        let ln_odds = self.a.ln() - (self.b + xf - 1.0).ln()
            + (self.r + xf) * ((self.alpha + t).ln() - (self.alpha + t_x).ln());
        logistic_of_minus(ln_odds)
    }

    /// E[X(horizon) | x, t_x, T], the expected purchases in the next `horizon` time units,
    /// Fader, Hardie & Lee (2005) eq. (10):
    /// (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) · ₂F₁(r+x, b+x; a+b+x−1; t/(α+T+t))]
    /// · P(alive). The bracket is evaluated after Euler's transformation as
    /// 1 − (1−z)^(a−1) · ₂F₁(a+b−1−r, a−1; a+b+x−1; z) with z = t/(α+T+t), whose series has
    /// small numerator parameters for any x. At a = 1 (0/0) it interpolates between a = 1 ± 10⁻⁴.
    /// A non-finite or negative horizon gives 0; T < 0 or NaN counts as 0, t_x is clamped to
    /// [0, T]. The result is finite and ≥ 0.
    pub fn expected_purchases(&self, horizon: f64, x: u32, t_x: f64, t: f64) -> f64 {
        if !(horizon.is_finite() && horizon > 0.0) {
            return 0.0;
        }
        let (t_x, t) = sanitise_times(t_x, t);
        let alive = self.p_alive(x, t_x, t);
        let z = horizon / (self.alpha + t + horizon);
        const H: f64 = 1e-4;
        let scaled = if (self.a - 1.0).abs() < H {
            let lo = self.bracket_over_a_minus_1(1.0 - H, x, z);
            let hi = self.bracket_over_a_minus_1(1.0 + H, x, z);
            lo + (self.a - (1.0 - H)) / (2.0 * H) * (hi - lo)
        } else {
            self.bracket_over_a_minus_1(self.a, x, z)
        };
        let e = alive * scaled;
        if e.is_finite() {
            e.max(0.0)
        } else {
            0.0
        }
    }

    /// (a+b+x−1)/(a−1) · [1 − (1−z)^(a−1) · ₂F₁(a+b−1−r, a−1; a+b+x−1; z)] for a given a.
    fn bracket_over_a_minus_1(&self, a: f64, x: u32, z: f64) -> f64 {
        let c = a + self.b + f64::from(x) - 1.0;
        let f = hyp2f1(a + self.b - 1.0 - self.r, a - 1.0, c, z);
        let bracket = 1.0 - ((a - 1.0) * (-z).ln_1p()).exp() * f;
        c / (a - 1.0) * bracket
    }
}

/// t_x clamped into [0, T]; T < 0 or non-finite T counts as 0 (a customer seen only now).
fn sanitise_times(t_x: f64, t: f64) -> (f64, f64) {
    let t = if t.is_finite() && t > 0.0 { t } else { 0.0 };
    let t_x = if t_x.is_finite() {
        t_x.clamp(0.0, t)
    } else {
        0.0
    };
    (t_x, t)
}

/// 1 / (1 + e^s), without overflow for large |s|.
fn logistic_of_minus(s: f64) -> f64 {
    if s.is_nan() {
        return 0.0;
    }
    if s > 0.0 {
        let e = (-s).exp();
        e / (1.0 + e)
    } else {
        1.0 / (1.0 + s.exp())
    }
}

/// ln(e^u + e^v), stable.
fn log_add_exp(u: f64, v: f64) -> f64 {
    let (hi, lo) = if u >= v { (u, v) } else { (v, u) };
    if hi == f64::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// Checks a calibration summary: times finite, 0 ≤ t_x ≤ T.
fn check_customer(index: usize, c: &Customer) -> Result<(), FitError> {
    let bad = |reason: String| Err(FitError::InvalidCustomer { index, reason });
    if !(c.t.is_finite() && c.t >= 0.0) {
        return bad(format!("T must be a finite time ≥ 0, got {}", c.t));
    }
    if !(c.recency.is_finite() && c.recency >= 0.0 && c.recency <= c.t) {
        return bad(format!(
            "recency must lie in [0, T = {}], got {}",
            c.t, c.recency
        ));
    }
    if c.mean_spend_fen < 0 {
        return bad(format!(
            "mean spend must be ≥ 0 fen, got {}",
            c.mean_spend_fen
        ));
    }
    Ok(())
}

/// Fits BG/NBD by maximum likelihood.
///
/// Times are first divided by the mean T (so α starts at 1 whatever the time unit); the search
/// runs over θ = (ln r, ln α, ln a, ln b), each clamped to [−10, 10], with Nelder–Mead from
/// θ = 0 (r = α = a = b = 1), restarted from the best point until a restart no longer improves
/// the likelihood (at most 8 runs). Identical (x, t_x, T) summaries are weighted, not repeated,
/// and the sum is compensated (Neumaier). Every customer counts: an invalid summary is an error.
pub fn fit_bgnbd(customers: &[Customer]) -> Result<Fit<BgNbdParams>, FitError> {
    if customers.is_empty() {
        return Err(FitError::NoCustomers);
    }
    for (i, c) in customers.iter().enumerate() {
        check_customer(i, c)?;
    }
    if customers.iter().all(|c| c.frequency == 0) {
        return Err(FitError::NoRepeatPurchases {
            customers: customers.len(),
            with_spend: false,
        });
    }
    let mean_t = neumaier_sum(customers.iter().map(|c| c.t)) / customers.len() as f64;
    let scale = if mean_t > 0.0 { mean_t } else { 1.0 };
    // (x, t_x, T) scaled, with multiplicity; sorted by x so per-x constants are computed once.
    let mut rows: Vec<(u32, f64, f64)> = customers
        .iter()
        .map(|c| {
            (
                c.frequency,
                if c.frequency == 0 {
                    0.0
                } else {
                    c.recency / scale
                },
                c.t / scale,
            )
        })
        .collect();
    rows.sort_by(|p, q| {
        p.0.cmp(&q.0)
            .then(p.1.total_cmp(&q.1))
            .then(p.2.total_cmp(&q.2))
    });
    let mut grouped: Vec<(u32, f64, f64, f64)> = Vec::new();
    for (x, tx, t) in rows {
        match grouped.last_mut() {
            Some(g) if g.0 == x && g.1 == tx && g.2 == t => g.3 += 1.0,
            _ => grouped.push((x, tx, t, 1.0)),
        }
    }
    let sum_x: f64 = customers.iter().map(|c| f64::from(c.frequency)).sum();
    // The distinct times (t_x and T): shop data in days has a few hundred of them for any number
    // of customers, so ln(α + time) is computed once per time per evaluation. Each row keeps
    // the indexes of its t_x and T.
    let mut times: Vec<f64> = grouped.iter().flat_map(|g| [g.1, g.2]).collect();
    times.sort_by(f64::total_cmp);
    times.dedup_by(|p, q| p.total_cmp(q).is_eq());
    let index_of = |v: f64| times.binary_search_by(|p| p.total_cmp(&v)).unwrap_or(0);
    let indexed: Vec<(u32, usize, usize, f64)> = grouped.iter().map(|&(x, tx, t, w)| (x, index_of(tx), index_of(t), w)).collect();
    let mut ln_alpha_plus = vec![0.0; times.len()];

    let mut neg_ll = |theta: &[f64]| -> f64 {
        let p = BgNbdParams {
            r: theta[0].exp(),
            alpha: theta[1].exp(),
            a: theta[2].exp(),
            b: theta[3].exp(),
        };
        let ln_g_r = ln_gamma(p.r);
        let ln_b_ab = ln_gamma(p.a) + ln_gamma(p.b) - ln_gamma(p.a + p.b);
        for (l, v) in ln_alpha_plus.iter_mut().zip(&times) {
            *l = (p.alpha + v).ln();
        }
        let mut acc = Neumaier::default();
        let mut current: Option<(u32, BgParts)> = None;
        for &(x, itx, it, w) in &indexed {
            let parts = match current.take() {
                Some((cx, parts)) if cx == x => parts,
                _ => p.parts(x, ln_g_r, ln_b_ab),
            };
            acc.add(w * p.ll_with_logs(&parts, x, || ln_alpha_plus[itx], ln_alpha_plus[it]));
            current = Some((x, parts));
        }
        let ll = acc.total();
        if ll.is_finite() {
            -ll
        } else {
            f64::INFINITY
        }
    };
    let evaluations = std::cell::Cell::new(0u32);
    let mut counted = |theta: &[f64]| {
        evaluations.set(evaluations.get().saturating_add(1));
        neg_ll(theta)
    };
    let run = minimise_with_restarts(&mut counted, &[0.0; 4]);
    let to_params = |th: &[f64]| BgNbdParams {
        r: th[0].exp(),
        alpha: th[1].exp() * scale,
        a: th[2].exp(),
        b: th[3].exp(),
    };
    let params = to_params(&run.x);
    // Undo the time scaling: ln L(α·s | data·s) = ln L(α | data) − Σ x · ln s.
    let log_likelihood = -run.fx - sum_x * scale.ln();
    if !log_likelihood.is_finite() {
        return Err(FitError::DidNotConverge {
            params: vec![
                ("r", params.r),
                ("alpha", params.alpha),
                ("a", params.a),
                ("b", params.b),
            ],
            log_likelihood,
            reason: "no parameters with a finite likelihood were found".into(),
        });
    }
    let names = ["r", "alpha", "a", "b"];
    let note = fit_note(&run, &names);
    // α's time scale cancels in SE(α)/α, so the scaled θ gives every relative error.
    let std_errors = note
        .is_none()
        .then(|| ln_std_errors(&mut neg_ll, &run.x))
        .flatten()
        .map(|se| BgNbdParams {
            r: params.r * se[0],
            alpha: params.alpha * se[1],
            a: params.a * se[2],
            b: params.b * se[3],
        });
    Ok(Fit {
        params,
        log_likelihood,
        customers: customers.len(),
        converged: note.is_none(),
        iterations: run.iterations,
        evaluations: evaluations.get(),
        note,
        std_errors,
    })
}

fn fit_note(run: &NmResult, names: &[&str]) -> Option<String> {
    let at_bound: Vec<&str> = run
        .x
        .iter()
        .zip(names)
        .filter(|(t, _)| t.abs() >= LN_PARAM_BOUND - 1e-3)
        .map(|(_, n)| *n)
        .collect();
    if !at_bound.is_empty() {
        Some(format!(
            "{} at the bound e^±{LN_PARAM_BOUND}: the data do not identify {}",
            at_bound.join(", "),
            if at_bound.len() == 1 { "it" } else { "them" }
        ))
    } else if !run.converged {
        Some(format!(
            "the optimiser stopped after {} iterations without converging",
            run.iterations
        ))
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Gamma-Gamma
// ---------------------------------------------------------------------------------------------

impl GammaGammaParams {
    /// ln f(m̄ | p, q, v, x) for a customer with x transactions of mean value m̄:
    /// f = Γ(px+q) / (Γ(px) Γ(q)) · v^q · m̄^(px−1) · x^(px) / (v + x·m̄)^(px+q).
    /// x = 0 or m̄ ≤ 0 carry no spend information: the result is 0 (a factor of 1).
    pub fn log_likelihood(&self, x: u32, mean_spend: f64) -> f64 {
        if x == 0 || mean_spend.is_nan() || mean_spend <= 0.0 {
            return 0.0;
        }
        let xf = f64::from(x);
        let px = self.p * xf;
        ln_gamma(px + self.q) - ln_gamma(px) - ln_gamma(self.q)
            + self.q * self.v.ln()
            + (px - 1.0) * mean_spend.ln()
            + px * xf.ln()
            - (px + self.q) * (self.v + xf * mean_spend).ln()
    }

    /// E[value of a transaction | x, m̄] = p (v + x·m̄) / (p x + q − 1), rounded to fen.
    /// With x = 0 this is the population mean p v / (q − 1). When p x + q ≤ 1 the expectation is
    /// unbounded and the observed mean spend is returned instead (0 when x = 0).
    pub fn expected_spend_fen(&self, x: u32, mean_spend_fen: i64) -> i64 {
        let xf = f64::from(x);
        let m = if x == 0 {
            0.0
        } else {
            mean_spend_fen.max(0) as f64
        };
        let den = self.p * xf + self.q - 1.0;
        let e = self.p * (self.v + xf * m) / den;
        if den > 0.0 && e.is_finite() {
            // `as` saturates at i64::MAX for absurd parameters.
            e.round() as i64
        } else if x == 0 {
            0
        } else {
            mean_spend_fen.max(0)
        }
    }
}

/// Fits Gamma-Gamma by maximum likelihood on the customers with frequency > 0 and
/// mean_spend_fen > 0 (the others carry no spend information; `customers` in the result counts
/// those used). Spends are divided by their mean before fitting, so v starts at 1 whatever the
/// currency scale; θ = (ln p, ln q, ln v), each in [−10, 10], start p = 1, q = 2, v = 1
/// (population mean = the observed mean), Nelder–Mead with restarts as for [`fit_bgnbd`].
pub fn fit_gamma_gamma(customers: &[Customer]) -> Result<Fit<GammaGammaParams>, FitError> {
    if customers.is_empty() {
        return Err(FitError::NoCustomers);
    }
    for (i, c) in customers.iter().enumerate() {
        check_customer(i, c)?;
    }
    let used: Vec<(u32, f64)> = customers
        .iter()
        .filter(|c| c.frequency > 0 && c.mean_spend_fen > 0)
        .map(|c| (c.frequency, c.mean_spend_fen as f64))
        .collect();
    if used.is_empty() {
        return Err(FitError::NoRepeatPurchases {
            customers: customers.len(),
            with_spend: true,
        });
    }
    let scale = neumaier_sum(used.iter().map(|u| u.1)) / used.len() as f64;
    let mut rows: Vec<(u32, f64)> = used.iter().map(|&(x, m)| (x, m / scale)).collect();
    rows.sort_by(|p, q| p.0.cmp(&q.0).then(p.1.total_cmp(&q.1)));
    let mut grouped: Vec<(u32, f64, f64, f64)> = Vec::new(); // x, m, ln m, weight
    for (x, m) in rows {
        match grouped.last_mut() {
            Some(g) if g.0 == x && g.1 == m => g.3 += 1.0,
            _ => grouped.push((x, m, m.ln(), 1.0)),
        }
    }
    let mut neg_ll = |theta: &[f64]| -> f64 {
        let (p, q, v) = (theta[0].exp(), theta[1].exp(), theta[2].exp());
        let (ln_g_q, ln_v) = (ln_gamma(q), v.ln());
        let mut acc = Neumaier::default();
        let mut current: Option<(u32, f64)> = None;
        for &(x, m, ln_m, w) in &grouped {
            let xf = f64::from(x);
            let px = p * xf;
            let c = match current {
                Some((cx, c)) if cx == x => c,
                _ => ln_gamma(px + q) - ln_gamma(px) - ln_g_q + q * ln_v + px * xf.ln(),
            };
            current = Some((x, c));
            acc.add(w * (c + (px - 1.0) * ln_m - (px + q) * (v + xf * m).ln()));
        }
        let ll = acc.total();
        if ll.is_finite() {
            -ll
        } else {
            f64::INFINITY
        }
    };
    let evaluations = std::cell::Cell::new(0u32);
    let mut counted = |theta: &[f64]| {
        evaluations.set(evaluations.get().saturating_add(1));
        neg_ll(theta)
    };
    let run = minimise_with_restarts(&mut counted, &[0.0, 2f64.ln(), 0.0]);
    let params = GammaGammaParams {
        p: run.x[0].exp(),
        q: run.x[1].exp(),
        v: run.x[2].exp() * scale,
    };
    // Undo the money scaling: each density in m̄ gains a factor 1/s.
    let log_likelihood = -run.fx - used.len() as f64 * scale.ln();
    if !log_likelihood.is_finite() {
        return Err(FitError::DidNotConverge {
            params: vec![("p", params.p), ("q", params.q), ("v", params.v)],
            log_likelihood,
            reason: "no parameters with a finite likelihood were found".into(),
        });
    }
    let note = fit_note(&run, &["p", "q", "v"]);
    let std_errors = note
        .is_none()
        .then(|| ln_std_errors(&mut neg_ll, &run.x))
        .flatten()
        .map(|se| GammaGammaParams {
            p: params.p * se[0],
            q: params.q * se[1],
            v: params.v * se[2],
        });
    Ok(Fit {
        params,
        log_likelihood,
        customers: used.len(),
        converged: note.is_none(),
        iterations: run.iterations,
        evaluations: evaluations.get(),
        note,
        std_errors,
    })
}

// ---------------------------------------------------------------------------------------------
// Numerics: compensated sums, ln Γ, ₂F₁, Nelder–Mead
// ---------------------------------------------------------------------------------------------

/// Standard errors of θ at the minimum `x` of the negative log-likelihood `f`: the square roots of
/// the diagonal of the inverse Hessian (central differences, step 10⁻³ in θ; a Cholesky inverse).
/// `None` when the Hessian is not positive definite or any value is not finite.
fn ln_std_errors(f: &mut impl FnMut(&[f64]) -> f64, x: &[f64]) -> Option<Vec<f64>> {
    const H: f64 = 1e-3;
    let n = x.len();
    let mut at = |moves: &[(usize, f64)]| {
        let mut p = x.to_vec();
        for &(i, d) in moves {
            p[i] += d;
        }
        f(&p)
    };
    let f0 = at(&[]);
    let mut hess = vec![vec![0.0; n]; n];
    for i in 0..n {
        hess[i][i] = (at(&[(i, H)]) - 2.0 * f0 + at(&[(i, -H)])) / (H * H);
        for j in 0..i {
            let v = (at(&[(i, H), (j, H)]) - at(&[(i, H), (j, -H)]) - at(&[(i, -H), (j, H)])
                + at(&[(i, -H), (j, -H)]))
                / (4.0 * H * H);
            hess[i][j] = v;
            hess[j][i] = v;
        }
    }
    // Cholesky H = L Lᵀ; then column k of H⁻¹ solves L Lᵀ c = e_k, and only c_k is needed.
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = hess[i][j] - (0..j).map(|k| l[i][k] * l[j][k]).sum::<f64>();
            if i == j {
                if !(s.is_finite() && s > 0.0) {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        // Forward: L y = e_k; the variance is ‖y‖² (c_k = yᵀy since H⁻¹ = L⁻ᵀ L⁻¹).
        let mut y = vec![0.0; n];
        for i in 0..n {
            let e = if i == k { 1.0 } else { 0.0 };
            y[i] = (e - (0..i).map(|m| l[i][m] * y[m]).sum::<f64>()) / l[i][i];
        }
        let var: f64 = y.iter().map(|v| v * v).sum();
        if !var.is_finite() {
            return None;
        }
        out.push(var.sqrt());
    }
    Some(out)
}

/// Neumaier's compensated summation.
#[derive(Default)]
struct Neumaier {
    sum: f64,
    comp: f64,
}

impl Neumaier {
    fn add(&mut self, v: f64) {
        let t = self.sum + v;
        if self.sum.abs() >= v.abs() {
            self.comp += (self.sum - t) + v;
        } else {
            self.comp += (v - t) + self.sum;
        }
        self.sum = t;
    }
    fn total(&self) -> f64 {
        self.sum + self.comp
    }
}

fn neumaier_sum(values: impl Iterator<Item = f64>) -> f64 {
    let mut acc = Neumaier::default();
    values.for_each(|v| acc.add(v));
    acc.total()
}

const LANCZOS_G: f64 = 7.0;
const LANCZOS: [f64; 9] = [
    0.999_999_999_999_809_9,
    676.520_368_121_885_1,
    -1_259.139_216_722_402_8,
    771.323_428_777_653_1,
    -176.615_029_162_140_6,
    12.507_343_278_686_905,
    -0.138_571_095_265_720_12,
    9.984_369_578_019_572e-6,
    1.505_632_735_149_311_6e-7,
];

/// ln |Γ(x)| and the sign of Γ(x) (Lanczos, g = 7, n = 9, ~15 digits; reflection below 1/2).
/// At the poles (0, −1, −2, …) the sign is 0 and the logarithm +∞.
fn ln_gamma_signed(x: f64) -> (f64, f64) {
    if x.is_nan() {
        return (f64::NAN, f64::NAN);
    }
    if x < 0.5 {
        if x == x.floor() {
            return (f64::INFINITY, 0.0);
        }
        // Γ(x) Γ(1−x) = π / sin(πx)
        let s = (std::f64::consts::PI * x).sin();
        let (lg, sg) = ln_gamma_signed(1.0 - x);
        return (
            std::f64::consts::PI.ln() - s.abs().ln() - lg,
            s.signum() * sg,
        );
    }
    let x = x - 1.0;
    let mut acc = LANCZOS[0];
    for (i, c) in LANCZOS.iter().enumerate().skip(1) {
        acc += c / (x + i as f64);
    }
    let t = x + LANCZOS_G + 0.5;
    let ln = 0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + acc.ln();
    (ln, 1.0)
}

/// ln Γ(x) for x > 0 (ln |Γ(x)| elsewhere).
fn ln_gamma(x: f64) -> f64 {
    ln_gamma_signed(x).0
}

/// Π Γ(num) / Π Γ(den), via logs; a pole in `den` gives 0, a pole in `num` gives NaN.
fn gamma_ratio(num: &[f64], den: &[f64]) -> f64 {
    let mut ln = 0.0;
    let mut sign = 1.0;
    for &d in den {
        let (l, s) = ln_gamma_signed(d);
        if s == 0.0 {
            return 0.0;
        }
        ln -= l;
        sign *= s;
    }
    for &n in num {
        let (l, s) = ln_gamma_signed(n);
        if s == 0.0 {
            return f64::NAN;
        }
        ln += l;
        sign *= s;
    }
    sign * ln.exp()
}

/// The hypergeometric series Σ (a)ₙ(b)ₙ/((c)ₙ n!) zⁿ, summed until the terms stop mattering;
/// None when it hits c + n = 0 or does not settle within `max_terms`.
fn hyp2f1_series(a: f64, b: f64, c: f64, z: f64, max_terms: u32) -> Option<f64> {
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut small = 0;
    for n in 0..max_terms {
        let nf = f64::from(n);
        if term == 0.0 {
            return Some(sum);
        }
        if c + nf == 0.0 {
            return None;
        }
        term *= (a + nf) * (b + nf) / ((c + nf) * (nf + 1.0)) * z;
        sum += term;
        if !sum.is_finite() {
            return None;
        }
        if term.abs() <= 1e-17 * sum.abs() {
            small += 1;
            // Two negligible terms in a row, and past the peak of the terms.
            if small >= 2
                && ((a + nf + 1.0) * (b + nf + 1.0) * z).abs() < ((c + nf + 1.0) * (nf + 2.0)).abs()
            {
                return Some(sum);
            }
        } else {
            small = 0;
        }
    }
    None
}

/// How close c − a − b may come to an integer before ₂F₁'s connection formula is interpolated.
const NEAR_INTEGER: f64 = 1e-5;

/// Gauss's hypergeometric function ₂F₁(a, b; c; z) for real z < 1. NaN outside that domain or
/// when c is a pole (0, −1, …).
/// - z < 0: Pfaff, ₂F₁(a,b;c;z) = (1−z)^(−a) ₂F₁(a, c−b; c; z/(z−1)), argument in (0, 1).
/// - 0 ≤ z ≤ 0.9: the series directly.
/// - 0.9 < z < 1: the connection formula to 1−z (Abramowitz & Stegun 15.3.6), whose two series
///   converge fast; when c−a−b is within 10⁻⁵ of an integer (where its gamma factors blow up
///   and cancel) c is moved so that c−a−b = integer ± 10⁻⁵ and the two values interpolated
///   (error O(10⁻¹⁰), about 10⁻¹¹ lost to the cancellation).
fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    if [a, b, c, z].iter().any(|v| !v.is_finite()) || z >= 1.0 {
        return f64::NAN;
    }
    if c <= 0.0 && c == c.floor() {
        return f64::NAN;
    }
    if z < 0.0 {
        let w = z / (z - 1.0);
        return (1.0 - z).powf(-a) * hyp2f1(a, c - b, c, w);
    }
    if z <= 0.9 {
        return hyp2f1_series(a, b, c, z, 100_000).unwrap_or(f64::NAN);
    }
    let s = c - a - b;
    let d = s - s.round();
    if d.abs() < NEAR_INTEGER {
        // Values at c − a − b = integer ± H, interpolated linearly at the true offset d.
        let lo = hyp2f1_connection(a, b, c - d - NEAR_INTEGER, z);
        let hi = hyp2f1_connection(a, b, c - d + NEAR_INTEGER, z);
        return lo + (d + NEAR_INTEGER) / (2.0 * NEAR_INTEGER) * (hi - lo);
    }
    hyp2f1_connection(a, b, c, z)
}

fn hyp2f1_connection(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let w = 1.0 - z;
    let s = c - a - b;
    let g1 = gamma_ratio(&[c, s], &[c - a, c - b]);
    let g2 = gamma_ratio(&[c, -s], &[a, b]);
    let f1 = if g1 == 0.0 {
        Some(0.0)
    } else {
        hyp2f1_series(a, b, 1.0 - s, w, 100_000)
    };
    let f2 = if g2 == 0.0 {
        Some(0.0)
    } else {
        hyp2f1_series(c - a, c - b, 1.0 + s, w, 100_000)
    };
    match (f1, f2) {
        (Some(f1), Some(f2)) => {
            let t1 = if g1 == 0.0 { 0.0 } else { g1 * f1 };
            let t2 = if g2 == 0.0 { 0.0 } else { w.powf(s) * g2 * f2 };
            t1 + t2
        }
        _ => f64::NAN,
    }
}

/// Samplers and a BG/NBD customer simulator, deterministic through fastrand seeds: the model's
/// own generative story, for the fit tests and the fit-time benchmark (`storehub bench --only clv`).
pub mod sim {
    use super::{BgNbdParams, Customer};

    /// Standard normal (Box–Muller).
    pub fn normal(rng: &mut fastrand::Rng) -> f64 {
        let u1 = 1.0 - rng.f64(); // (0, 1]
        let u2 = rng.f64();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Gamma(shape, rate 1): Marsaglia & Tsang (2000); shape < 1 boosted by U^(1/shape).
    pub fn gamma(rng: &mut fastrand::Rng, shape: f64) -> f64 {
        if shape < 1.0 {
            let u = 1.0 - rng.f64();
            return gamma(rng, shape + 1.0) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = normal(rng);
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = 1.0 - rng.f64();
            if u < 1.0 - 0.0331 * x.powi(4) || u.ln() < 0.5 * x * x + d * (1.0 - v + v.ln()) {
                return d * v;
            }
        }
    }

    /// Beta(a, b) from two Gammas.
    pub fn beta(rng: &mut fastrand::Rng, a: f64, b: f64) -> f64 {
        let x = gamma(rng, a);
        let y = gamma(rng, b);
        x / (x + y)
    }

    /// Exponential with rate `rate`.
    pub fn exponential(rng: &mut fastrand::Rng, rate: f64) -> f64 {
        -(1.0 - rng.f64()).ln() / rate
    }

    /// BG/NBD customers: first purchase at 0, then a Poisson process with rate λ ~ Gamma(r, α);
    /// after each repeat purchase the customer drops out with probability p ~ Beta(a, b) (the
    /// paper's assumption (iii), which its likelihood eq. (6) encodes: no dropout at time 0).
    pub fn simulate_bgnbd(seed: u64, n: usize, truth: BgNbdParams, t_end: f64) -> Vec<Customer> {
        let mut rng = fastrand::Rng::with_seed(seed);
        (0..n)
            .map(|_| {
                let lambda = gamma(&mut rng, truth.r) / truth.alpha;
                let p = beta(&mut rng, truth.a, truth.b);
                let (mut t, mut x, mut t_x) = (0.0, 0u32, 0.0);
                loop {
                    t += exponential(&mut rng, lambda);
                    if t > t_end {
                        break;
                    }
                    x += 1;
                    t_x = t;
                    if rng.f64() < p {
                        break;
                    }
                }
                Customer {
                    frequency: x,
                    recency: t_x,
                    t: t_end,
                    mean_spend_fen: 0,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::sim::{gamma, simulate_bgnbd};

    /// Gamma-Gamma customers with 1–10 transactions, values in yuan ~ Gamma(p, ν),
    /// ν ~ Gamma(q, v); the mean is stored in fen (× 100, rounded), so the fitted v is in fen.
    fn simulate_gamma_gamma(seed: u64, n: usize, truth: GammaGammaParams) -> Vec<Customer> {
        let mut rng = fastrand::Rng::with_seed(seed);
        (0..n)
            .map(|_| {
                let nu = gamma(&mut rng, truth.q) / truth.v;
                let x = rng.u32(1..=10);
                let total: f64 = (0..x).map(|_| gamma(&mut rng, truth.p) / nu).sum();
                let mean_fen = (total / f64::from(x) * 100.0).round() as i64;
                Customer {
                    frequency: x,
                    recency: 1.0,
                    t: 2.0,
                    mean_spend_fen: mean_fen,
                }
            })
            .collect()
    }

    fn within(got: f64, want: f64, rel: f64) -> bool {
        ((got - want) / want).abs() <= rel
    }

    fn close(got: f64, want: f64, tol: f64) {
        assert!(
            (got - want).abs() <= tol * want.abs().max(1.0),
            "got {got}, want {want}"
        );
    }

    const CDNOW: BgNbdParams = BgNbdParams {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };

    // ---- special functions ----

    #[test]
    fn ln_gamma_matches_known_values() {
        close(ln_gamma(1.0), 0.0, 1e-14);
        close(ln_gamma(2.0), 0.0, 1e-14);
        close(ln_gamma(0.5), 0.5 * std::f64::consts::PI.ln(), 1e-14); // Γ(½) = √π
        close(ln_gamma(10.0), 362_880f64.ln(), 1e-14); // 9!
        close(ln_gamma(100.0), 359.134_205_369_575_4, 1e-14);
        close(ln_gamma(0.25), 1.288_022_524_698_077_5, 1e-13);
        close(ln_gamma(1e-8), -(1e-8f64).ln() - 0.577_215_664_9e-8, 1e-12); // Γ(ε) ≈ 1/ε − γ
                                                                            // Γ(−½) = −2√π
        let (l, s) = ln_gamma_signed(-0.5);
        assert_eq!(s, -1.0);
        close(l, (2.0 * std::f64::consts::PI.sqrt()).ln(), 1e-13);
        assert_eq!(ln_gamma_signed(-2.0).1, 0.0);
        close(gamma_ratio(&[5.0], &[3.0]), 12.0, 1e-13); // 4!/2!
        assert_eq!(gamma_ratio(&[1.0], &[-1.0]), 0.0);
    }

    #[test]
    fn hyp2f1_matches_closed_forms_on_every_branch() {
        // Series branch: 2F1(1,1;2;z) = −ln(1−z)/z; z = 0.5 → 2 ln 2 = 1.386294…
        close(hyp2f1(1.0, 1.0, 2.0, 0.5), 2.0 * 2f64.ln(), 1e-13);
        // Connection branch with c−a−b = 0 (perturbed): z = 0.99 → ln 100 / 0.99 = 4.651687…
        close(hyp2f1(1.0, 1.0, 2.0, 0.99), 100f64.ln() / 0.99, 1e-7);
        // Connection branch, c−a−b = −½: 2F1(a,b;b;z) = (1−z)^−a; (0.05)^−0.5 = 4.472136…
        close(hyp2f1(0.5, 1.3, 1.3, 0.95), 0.05f64.powf(-0.5), 1e-12);
        // 2F1(½,½;3/2;z²) = asin(z)/z; z² = 0.98 → 1.443406…
        let s = 0.98f64.sqrt();
        close(hyp2f1(0.5, 0.5, 1.5, 0.98), s.asin() / s, 1e-12);
        // Generic values (mpmath, 30 digits): 2F1(0.3, 1.7; 2.2; ·) at 0.5, 0.97, −3.
        close(hyp2f1(0.3, 1.7, 2.2, 0.5), 1.165_148_601_994_455_3, 1e-13);
        close(hyp2f1(0.3, 1.7, 2.2, 0.97), 1.826_890_845_341_001_3, 1e-12);
        close(hyp2f1(0.3, 1.7, 2.2, -3.0), 0.706_044_799_745_976_2, 1e-12);
        // Negative z: 2F1(1,1;2;−1) = ln 2.
        close(hyp2f1(1.0, 1.0, 2.0, -1.0), 2f64.ln(), 1e-13);
        // Terminating series: 2F1(−2, b; c; z) = 1 − 2bz/c + b(b+1)z²/(c(c+1)); b=1, c=3, z=0.5
        // → 1 − 1/3 + 2·0.25/12 = 0.708333…
        close(
            hyp2f1(-2.0, 1.0, 3.0, 0.5),
            1.0 - 1.0 / 3.0 + 0.5 / 12.0,
            1e-14,
        );
        assert!(hyp2f1(1.0, 1.0, 2.0, 1.0).is_nan());
    }

    #[test]
    fn neumaier_keeps_the_small_terms() {
        // 1e16 + 1 + 1 − 1e16 = 2 (naive summation gives 0).
        close(neumaier_sum([1e16, 1.0, 1.0, -1e16].into_iter()), 2.0, 0.0);
    }

    // ---- BG/NBD closed forms on the paper's CDNOW estimates ----

    #[test]
    fn p_alive_and_expected_purchases_for_the_papers_customer() {
        // x = 2, t_x = 30.43, T = 38.86 (weeks), CDNOW r=0.243, α=4.414, a=0.793, b=2.426.
        // a/(b+x−1) = 0.793/3.426 = 0.231465; (α+T)/(α+t_x) = 43.274/34.844 = 1.241935;
        // 1.241935^(r+x = 2.243) = 1.625789; odds = 0.231465 · 1.625789 = 0.376314;
        // P(alive) = 1/1.376314 = 0.726579.
        let p = CDNOW.p_alive(2, 30.43, 38.86);
        close(p, 0.726_578_570_080_673, 1e-12);
        // E[X(39)]: z = 39/(43.274+39) = 0.474026; 2F1(2.243, 4.426; 4.219; z) = 4.575316;
        // (43.274/82.274)^2.243 · 4.575316 = 1.082790 → bracket = −0.082790;
        // (a+b+x−1)/(a−1) = 4.219/−0.207 = −20.381643; E = −20.381643 · −0.082790 · 0.726579
        // = 1.226028 — the paper reports 1.226 for this customer.
        let e = CDNOW.expected_purchases(39.0, 2, 30.43, 38.86);
        close(e, 1.226_028_174_767_144_5, 1e-10);
        // x = 0: alive for sure; E = (a+b−1)/(a−1) · [1 − (α+T)/(α+T+t))^r 2F1(r, b; a+b−1; z)]
        assert_eq!(CDNOW.p_alive(0, 0.0, 38.86), 1.0);
        close(
            CDNOW.expected_purchases(39.0, 0, 0.0, 38.86),
            0.195_098_052_011_262_64,
            1e-10,
        );
        // A brand-new customer (T = 0): z = 39/43.414 = 0.898326, still the series branch.
        close(
            CDNOW.expected_purchases(39.0, 0, 0.0, 0.0),
            1.196_723_193_320_817,
            1e-10,
        );
    }

    #[test]
    fn expected_purchases_is_continuous_through_a_equal_1() {
        // At a = 1 eq. (10) is 0/0; the value must sit between its neighbours a = 1 ± 0.01.
        let at = |a: f64| BgNbdParams { a, ..CDNOW }.expected_purchases(39.0, 3, 20.0, 38.0);
        let (lo, mid, hi) = (at(0.99), at(1.0), at(1.01));
        assert!(
            mid.is_finite() && (lo.min(hi)..=lo.max(hi)).contains(&mid),
            "{lo} {mid} {hi}"
        );
        close(mid, 0.5 * (lo + hi), 1e-3);
        close(at(1.0 + 5e-5), at(1.0 + 2e-4), 1e-3);
    }

    #[test]
    fn log_likelihood_matches_equation_6_term_by_term() {
        // x = 2, t_x = 30.43, T = 38.86: L = A·(B1 + B2) with
        // A = Γ(r+x) α^r / Γ(r), B1 = B(a,b+x)/B(a,b)/(α+T)^(r+x),
        // B2 = B(a+1,b+x−1)/B(a,b)/(α+t_x)^(r+x), computed here directly with exp(ln Γ).
        let (r, al, a, b) = (CDNOW.r, CDNOW.alpha, CDNOW.a, CDNOW.b);
        let g = |v: f64| ln_gamma(v).exp();
        let beta = |u: f64, v: f64| g(u) * g(v) / g(u + v);
        let big_a = g(r + 2.0) * al.powf(r) / g(r);
        let b1 = beta(a, b + 2.0) / beta(a, b) / (al + 38.86f64).powf(r + 2.0);
        let b2 = beta(a + 1.0, b + 1.0) / beta(a, b) / (al + 30.43f64).powf(r + 2.0);
        let c = Customer {
            frequency: 2,
            recency: 30.43,
            t: 38.86,
            mean_spend_fen: 0,
        };
        close(CDNOW.log_likelihood(&c), (big_a * (b1 + b2)).ln(), 1e-12);
        // Huge x stays finite where the direct product overflows.
        let c = Customer {
            frequency: 5_000,
            recency: 999.0,
            t: 1_000.0,
            mean_spend_fen: 0,
        };
        assert!(CDNOW.log_likelihood(&c).is_finite());
    }

    // ---- BG/NBD fit on simulated data ----

    fn assert_bgnbd_recovered(fit: &Fit<BgNbdParams>, truth: BgNbdParams, rel: f64) {
        let got = fit.params;
        for (name, g, w) in [
            ("r", got.r, truth.r),
            ("alpha", got.alpha, truth.alpha),
            ("a", got.a, truth.a),
            ("b", got.b, truth.b),
        ] {
            assert!(
                within(g, w, rel),
                "{name}: fitted {g}, true {w} (fit {fit:?})"
            );
        }
    }

    // Sampling spread, measured over seeds 2–19 at 5 000 customers × 39 weeks (see
    // docs/members-analytics.md): r within ±6 %, α within ±10 %, but a from 0.65 to 1.03 and b from
    // 1.70 to 3.63 — 5 000 customers do not pin a and b to 10 %, whatever the optimiser: the
    // fit's own standard errors there are ~10 % of a and ~20 % of b (asserted below). So the
    // issue's 5 000-customer case checks r and α within 10 %, every parameter within 3 standard
    // errors, and a likelihood-ratio test of the truth; the same parameters with 100 000
    // customers check every parameter within 10 %.

    /// χ² quantiles at 99.9 % for the likelihood-ratio test of the true parameters.
    const CHI2_999_DF4: f64 = 18.467;
    const CHI2_999_DF3: f64 = 16.266;

    #[test]
    fn bgnbd_fit_on_5000_customers_is_consistent_with_the_truth() {
        // 5 000 customers over 39 weeks from r=0.25, α=4.0, a=0.8, b=2.5 (seed fixed beforehand).
        let truth = BgNbdParams {
            r: 0.25,
            alpha: 4.0,
            a: 0.8,
            b: 2.5,
        };
        let customers = simulate_bgnbd(20_260_101, 5_000, truth, 39.0);
        let fit = fit_bgnbd(&customers).expect("fit");
        eprintln!("BG/NBD 5 000 customers: {fit:?}");
        assert!(fit.converged, "{fit:?}");
        assert_eq!(fit.customers, 5_000);
        assert!(within(fit.params.r, truth.r, 0.10), "{fit:?}");
        assert!(within(fit.params.alpha, truth.alpha, 0.10), "{fit:?}");
        let se = fit.std_errors.expect("standard errors");
        for (name, got, want, se) in [
            ("r", fit.params.r, truth.r, se.r),
            ("alpha", fit.params.alpha, truth.alpha, se.alpha),
            ("a", fit.params.a, truth.a, se.a),
            ("b", fit.params.b, truth.b, se.b),
        ] {
            assert!((got - want).abs() <= 3.0 * se, "{name}: fitted {got} ± {se}, true {want}");
        }
        // Why a and b cannot be held to 10 % here: one standard error is about that wide.
        assert!(se.a / fit.params.a > 0.08 && se.b / fit.params.b > 0.15, "{se:?}");
        // The optimum is at least as likely as the truth, and not implausibly more: the
        // likelihood-ratio statistic 2 (ln L̂ − ln L(truth)) stays below χ²₄ at 99.9 %.
        let at_truth = neumaier_sum(customers.iter().map(|c| truth.log_likelihood(c)));
        let lr = 2.0 * (fit.log_likelihood - at_truth);
        assert!((-1e-6..CHI2_999_DF4).contains(&lr), "LR statistic {lr}");
        // The reported likelihood is the summed per-customer one at the reported parameters.
        let at_fit = neumaier_sum(customers.iter().map(|c| fit.params.log_likelihood(c)));
        close(fit.log_likelihood, at_fit, 1e-9);
    }

    #[test]
    fn bgnbd_fit_recovers_every_parameter_within_10_percent() {
        // The same parameters with 100 000 customers over 39 weeks (~3 s in a debug build).
        let truth = BgNbdParams {
            r: 0.25,
            alpha: 4.0,
            a: 0.8,
            b: 2.5,
        };
        let customers = simulate_bgnbd(20_260_101, 100_000, truth, 39.0);
        let fit = fit_bgnbd(&customers).expect("fit");
        eprintln!("BG/NBD 100 000 customers: {fit:?}");
        assert!(fit.converged, "{fit:?}");
        assert_bgnbd_recovered(&fit, truth, 0.10);
    }

    #[test]
    fn standard_errors_match_the_spread_between_samples() {
        // 24 samples of 2 000 customers from the same truth: the spread of the estimates between
        // samples is what the standard errors claim, within the noise of 24 samples.
        let truth = BgNbdParams {
            r: 0.25,
            alpha: 4.0,
            a: 0.8,
            b: 2.5,
        };
        let fits: Vec<Fit<BgNbdParams>> = (100..124)
            .map(|seed| fit_bgnbd(&simulate_bgnbd(seed, 2_000, truth, 39.0)).expect("fit"))
            .collect();
        let field = |p: &BgNbdParams, i: usize| [p.r, p.alpha, p.a, p.b][i];
        for (i, name) in ["r", "alpha", "a", "b"].iter().enumerate() {
            let est: Vec<f64> = fits.iter().map(|f| field(&f.params, i)).collect();
            let mean = est.iter().sum::<f64>() / est.len() as f64;
            let spread =
                (est.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (est.len() - 1) as f64).sqrt();
            let claimed = fits
                .iter()
                .map(|f| field(f.std_errors.as_ref().expect("standard errors"), i))
                .sum::<f64>()
                / fits.len() as f64;
            let ratio = spread / claimed;
            eprintln!("{name}: spread {spread:.4}, mean standard error {claimed:.4}, ratio {ratio:.2}");
            assert!((0.6..1.6).contains(&ratio), "{name}: spread {spread} vs standard error {claimed}");
        }
    }

    #[test]
    fn standard_errors_of_a_normal_mean_are_sigma_over_root_n() {
        // −ln L of n draws with known σ = 2, as a function of θ = ln μ: at the optimum the
        // observed information in μ is n/σ², so SE(μ) = σ/√n = 2/10 = 0.2 and SE(ln μ) = 0.2/μ.
        let data: Vec<f64> = (0..100).map(|i| 5.0 + if i % 2 == 0 { 2.0 } else { -2.0 }).collect();
        let neg_ll = |th: &[f64]| {
            let mu = th[0].exp();
            data.iter().map(|x| (x - mu).powi(2) / 8.0).sum::<f64>()
        };
        let se = ln_std_errors(&mut { neg_ll }, &[5f64.ln()]).expect("positive definite");
        close(se[0] * 5.0, 0.2, 1e-4);
        // A flat direction has no finite standard error.
        assert_eq!(ln_std_errors(&mut |_: &[f64]| 1.0, &[0.0, 0.0]), None);
    }

    #[test]
    fn bgnbd_fit_is_the_same_in_days_and_weeks() {
        // Days = weeks × 7: r, a, b and the likelihood shape are unchanged, α scales by 7.
        let truth = BgNbdParams {
            r: 0.25,
            alpha: 4.0,
            a: 0.8,
            b: 2.5,
        };
        let weeks = simulate_bgnbd(7, 1_000, truth, 39.0);
        let days: Vec<Customer> = weeks
            .iter()
            .map(|c| Customer {
                recency: c.recency * 7.0,
                t: c.t * 7.0,
                ..*c
            })
            .collect();
        let (w, d) = (
            fit_bgnbd(&weeks).expect("weeks"),
            fit_bgnbd(&days).expect("days"),
        );
        close(d.params.r, w.params.r, 1e-3);
        close(d.params.alpha, 7.0 * w.params.alpha, 1e-3);
        close(d.params.a, w.params.a, 1e-3);
        close(d.params.b, w.params.b, 1e-3);
    }

    // ---- Gamma-Gamma ----

    // Gamma-Gamma spread over seeds 0–9 at 5 000 customers: q within ±6 %, but p from 5.0 to 7.8
    // and v (anti-correlated with p) from 1 100 to 1 885 fen: the mean spends of 1–10 purchases
    // say little about p. Same two-level check as BG/NBD.

    #[test]
    fn gamma_gamma_fit_on_5000_customers_is_consistent_with_the_truth() {
        // 5 000 customers with 1–10 transactions, p=6, q=4, v=15 (yuan) → v = 1 500 in fen.
        let truth = GammaGammaParams {
            p: 6.0,
            q: 4.0,
            v: 1_500.0,
        };
        let mut customers = simulate_gamma_gamma(42, 5_000, GammaGammaParams { v: 15.0, ..truth });
        // One-time buyers carry no spend information and are left out, visibly.
        customers.push(Customer {
            frequency: 0,
            recency: 0.0,
            t: 5.0,
            mean_spend_fen: 0,
        });
        let fit = fit_gamma_gamma(&customers).expect("fit");
        eprintln!("Gamma-Gamma 5 000 customers: {fit:?}");
        assert!(fit.converged, "{fit:?}");
        assert_eq!(fit.customers, 5_000);
        assert!(within(fit.params.q, truth.q, 0.10), "{fit:?}");
        let se = fit.std_errors.expect("standard errors");
        for (name, got, want, se) in [
            ("p", fit.params.p, truth.p, se.p),
            ("q", fit.params.q, truth.q, se.q),
            ("v", fit.params.v, truth.v, se.v),
        ] {
            assert!((got - want).abs() <= 3.0 * se, "{name}: fitted {got} ± {se}, true {want}");
        }
        let at_truth = neumaier_sum(
            customers
                .iter()
                .map(|c| truth.log_likelihood(c.frequency, c.mean_spend_fen as f64)),
        );
        let lr = 2.0 * (fit.log_likelihood - at_truth);
        assert!((-1e-6..CHI2_999_DF3).contains(&lr), "LR statistic {lr}");
    }

    #[test]
    fn gamma_gamma_fit_recovers_every_parameter_within_10_percent() {
        let truth = GammaGammaParams {
            p: 6.0,
            q: 4.0,
            v: 15.0,
        };
        let customers = simulate_gamma_gamma(42, 100_000, truth);
        let fit = fit_gamma_gamma(&customers).expect("fit");
        eprintln!("Gamma-Gamma 100 000 customers: {fit:?}");
        assert!(fit.converged, "{fit:?}");
        let g = fit.params;
        assert!(within(g.p, 6.0, 0.10), "p {}", g.p);
        assert!(within(g.q, 4.0, 0.10), "q {}", g.q);
        assert!(within(g.v, 1_500.0, 0.10), "v {} fen", g.v);
    }

    #[test]
    fn gamma_gamma_expected_spend_is_the_closed_form() {
        // p=6, q=4, v=1 500 fen; x = 3 purchases averaging ¥20.00 = 2 000 fen:
        // 6 · (1 500 + 3 · 2 000) / (6·3 + 4 − 1) = 45 000 / 21 = 2 142.857 → 2 143 fen.
        let gg = GammaGammaParams {
            p: 6.0,
            q: 4.0,
            v: 1_500.0,
        };
        assert_eq!(gg.expected_spend_fen(3, 2_000), 2_143);
        // x = 0: the population mean 6 · 1 500 / 3 = 3 000 fen, whatever was passed.
        assert_eq!(gg.expected_spend_fen(0, 777), 3_000);
        // q ≤ 1 − p·x: unbounded; the observed mean is returned.
        let heavy = GammaGammaParams {
            p: 0.1,
            q: 0.5,
            v: 10.0,
        };
        assert_eq!(heavy.expected_spend_fen(2, 1_234), 1_234);
        assert_eq!(heavy.expected_spend_fen(0, 1_234), 0);
        // The density: x = 1, m̄ = 1: ln[Γ(p+q)/(Γ(p)Γ(q)) v^q / (v+1)^(p+q)]
        // with p = 1, q = 2, v = 1: Γ(3)/(Γ(1)Γ(2)) · 1 / 2³ = 2/8 = 0.25.
        let unit = GammaGammaParams {
            p: 1.0,
            q: 2.0,
            v: 1.0,
        };
        close(unit.log_likelihood(1, 1.0), 0.25f64.ln(), 1e-13);
    }

    // ---- bad input ----

    #[test]
    fn bad_input_is_an_error_not_a_guess() {
        assert_eq!(fit_bgnbd(&[]), Err(FitError::NoCustomers));
        assert_eq!(fit_gamma_gamma(&[]), Err(FitError::NoCustomers));
        let one_timers = vec![
            Customer {
                frequency: 0,
                recency: 0.0,
                t: 30.0,
                mean_spend_fen: 0
            };
            50
        ];
        assert_eq!(
            fit_bgnbd(&one_timers),
            Err(FitError::NoRepeatPurchases {
                customers: 50,
                with_spend: false
            })
        );
        assert_eq!(
            fit_gamma_gamma(&one_timers),
            Err(FitError::NoRepeatPurchases {
                customers: 50,
                with_spend: true
            })
        );
        let bad = [
            Customer {
                frequency: 1,
                recency: 5.0,
                t: 10.0,
                mean_spend_fen: 100,
            },
            Customer {
                frequency: 1,
                recency: 12.0,
                t: 10.0,
                mean_spend_fen: 100,
            },
        ];
        match fit_bgnbd(&bad) {
            Err(FitError::InvalidCustomer { index: 1, reason }) => {
                assert!(reason.contains("recency"))
            }
            other => panic!("{other:?}"),
        }
        let nan = [Customer {
            frequency: 1,
            recency: 5.0,
            t: f64::NAN,
            mean_spend_fen: 100,
        }];
        assert!(matches!(
            fit_bgnbd(&nan),
            Err(FitError::InvalidCustomer { index: 0, .. })
        ));
        let negative = [Customer {
            frequency: 1,
            recency: 5.0,
            t: 9.0,
            mean_spend_fen: -1,
        }];
        assert!(matches!(
            fit_gamma_gamma(&negative),
            Err(FitError::InvalidCustomer { .. })
        ));
    }

    #[test]
    fn extreme_customers_give_finite_answers() {
        let models = [
            CDNOW,
            BgNbdParams {
                r: 1e-4,
                alpha: 1e-4,
                a: 1e-4,
                b: 1e-4,
            },
            BgNbdParams {
                r: 2e4,
                alpha: 2e4,
                a: 2e4,
                b: 2e4,
            },
            BgNbdParams {
                r: 0.5,
                alpha: 0.01,
                a: 1.0,
                b: 0.5,
            },
        ];
        let cases = [
            (0, 0.0, 0.0),
            (0, 0.0, 1e9),
            (1, 0.0, 1e9),
            (1_000, 1e9, 1e9),
            (1_000, 0.0, 1e9),
            (3, 50.0, 10.0),         // t_x > T: clamped
            (3, f64::NAN, f64::NAN), // garbage in: finite out
            (3, -5.0, -1.0),
        ];
        for m in models {
            for (x, tx, t) in cases {
                let p = m.p_alive(x, tx, t);
                assert!((0.0..=1.0).contains(&p), "{m:?} {x} {tx} {t}: p_alive {p}");
                for h in [0.0, 1e-6, 39.0, 1e6, f64::INFINITY, -1.0] {
                    let e = m.expected_purchases(h, x, tx, t);
                    assert!(e.is_finite() && e >= 0.0, "{m:?} {x} {tx} {t} h={h}: E {e}");
                }
                if tx.is_finite() && t.is_finite() && tx >= 0.0 && tx <= t {
                    let c = Customer {
                        frequency: x,
                        recency: tx,
                        t,
                        mean_spend_fen: 0,
                    };
                    assert!(!m.log_likelihood(&c).is_nan(), "{m:?} {c:?}");
                }
            }
        }
        // A store where nobody ever drops out and T is huge still fits or says why.
        let mut cs = vec![
            Customer {
                frequency: 0,
                recency: 0.0,
                t: 1e6,
                mean_spend_fen: 0
            };
            10
        ];
        cs.push(Customer {
            frequency: 1,
            recency: 0.0,
            t: 0.0,
            mean_spend_fen: 500,
        });
        match fit_bgnbd(&cs) {
            Ok(f) => {
                let p = f.params;
                assert!([p.r, p.alpha, p.a, p.b, f.log_likelihood]
                    .iter()
                    .all(|v| v.is_finite()));
                assert!(f.converged || f.note.is_some());
            }
            Err(e) => assert!(matches!(e, FitError::DidNotConverge { .. }), "{e}"),
        }
    }
}
