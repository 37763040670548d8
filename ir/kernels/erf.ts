/**
 * The Gauss error function in float64 (JavaScript has no Math.erf).
 *
 * |x| < 2.5: the series (Abramowitz & Stegun 7.1.6)
 *   erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_{n>=0} (2x^2)^n * x / (1*3*5*...*(2n+1)).
 *   Every term is positive, so there is no cancellation; it stops when a term
 *   drops below 1e-17 of the sum (at most ~50 terms).
 * |x| >= 2.5: erf(x) = 1 - erfc(x), with erfc from its continued fraction
 *   (A&S 7.1.14) erfc(x) = exp(-x^2) / sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))),
 *   evaluated backwards from a fixed depth of 60, where it has converged to
 *   double precision for every x >= 2.5. erfc < 4.1e-4 there, so the
 *   subtraction costs no relative accuracy that matters.
 * Accuracy, as the tests check it: within 1e-15 of published values, and
 * within 1e-13 of a Simpson quadrature of the defining integral on [0, 7]
 * (the quadrature's own error dominates that bound). |x| >= 6 returns +-1,
 * the correctly rounded value (erfc(6) < 2.2e-17).
 */
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const SQRT_PI = Math.sqrt(Math.PI);
const SERIES_LIMIT = 2.5;
const CF_DEPTH = 60;
const SATURATION = 6;

function erfSeries(ax: number): number {
  const twoX2 = 2 * ax * ax;
  let term = ax;
  let sum = ax;
  for (let n = 0; term > sum * 1e-17; n++) {
    term *= twoX2 / (2 * n + 3);
    sum += term;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-ax * ax) * sum;
}

function erfcContinuedFraction(ax: number): number {
  let f = ax;
  for (let n = CF_DEPTH; n >= 1; n--) f = ax + n / 2 / f;
  return Math.exp(-ax * ax) / (SQRT_PI * f);
}

export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  const r = ax >= SATURATION ? 1 : ax < SERIES_LIMIT ? erfSeries(ax) : 1 - erfcContinuedFraction(ax);
  return x < 0 ? -r : r;
}
