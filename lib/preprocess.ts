// Feature preprocessing, fitted on the training split only and saved with the
// model. Steps run in the order given, each per feature (column):
//   'log1p'          x -> sign(x)·log(1 + |x|)
//   'standardize'    x -> (x − mean) / std  (std 0 -> 1), moments of the training data
//   'quantileNormal' x -> Φ⁻¹(F(x)), F the empirical CDF of the training data
//                    (up to 1000 quantiles, linear interpolation, clipped to
//                    [1e-7, 1 − 1e-7]), as sklearn's QuantileTransformer(output_distribution='normal')

export type PreprocessStep = 'log1p' | 'standardize' | 'quantileNormal';
export const PREPROCESS_STEPS: readonly PreprocessStep[] = ['log1p', 'standardize', 'quantileNormal'];

export interface FittedStep {
  step: PreprocessStep;
  /** standardize: mean and std per feature. */
  mean?: number[];
  std?: number[];
  /** quantileNormal: per feature, sorted reference values at evenly spaced probabilities. */
  quantiles?: number[][];
}

export interface PreprocessorState {
  numFeatures: number;
  steps: FittedStep[];
}

const QUANTILES = 1000;
const CLIP = 1e-7;

// Acklam's inverse normal CDF (relative error < 1.2e-9).
function normalQuantile(p: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

// Empirical CDF value of x against sorted reference quantiles (ties averaged, as sklearn does).
function cdf(qs: number[], x: number): number {
  const n = qs.length;
  if (n === 1) return 0.5;
  if (x <= qs[0]!) return 0;
  if (x >= qs[n - 1]!) return 1;
  let lo = 0,
    hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (qs[mid]! <= x) lo = mid;
    else hi = mid;
  }
  // lo: last index with qs[lo] <= x; first index with qs[i] >= x for the tie-averaged position
  let first = lo;
  while (first > 0 && qs[first - 1] === x) first--;
  if (qs[lo] === x) return (first + lo) / 2 / (n - 1);
  const t = (x - qs[lo]!) / (qs[hi]! - qs[lo]!);
  return (lo + t) / (n - 1);
}

export class Preprocessor {
  readonly numFeatures: number;
  readonly steps: FittedStep[];

  private constructor(state: PreprocessorState) {
    this.numFeatures = state.numFeatures;
    this.steps = state.steps;
  }

  /**
   * Fits the steps on a training feature matrix (row-major, numDocs × numFeatures).
   * options.quantiles: reference quantiles of 'quantileNormal' — a count, or 'sklearn' for
   * max(min(numDocs / 30, 1000), 10) as DiffusionRank's code; default min(1000, numDocs).
   */
  static fit(features: Float32Array, numFeatures: number, steps: PreprocessStep[], options: { quantiles?: number | 'sklearn' } = {}): Preprocessor {
    for (const s of steps) {
      if (!PREPROCESS_STEPS.includes(s)) throw new RangeError(`preprocess step '${s}' is not one of ${PREPROCESS_STEPS.join(', ')}`);
    }
    const numDocs = numFeatures === 0 ? 0 : features.length / numFeatures;
    if (!Number.isInteger(numDocs)) throw new RangeError('features length is not a multiple of numFeatures');
    let x = features;
    const fitted: FittedStep[] = [];
    for (const step of steps) {
      const f: FittedStep = { step };
      if (step === 'standardize') {
        f.mean = new Array<number>(numFeatures).fill(0);
        f.std = new Array<number>(numFeatures).fill(0);
        for (let i = 0; i < numDocs; i++) for (let j = 0; j < numFeatures; j++) f.mean[j]! += x[i * numFeatures + j]!;
        for (let j = 0; j < numFeatures; j++) f.mean[j]! /= Math.max(1, numDocs);
        for (let i = 0; i < numDocs; i++)
          for (let j = 0; j < numFeatures; j++) {
            const dv = x[i * numFeatures + j]! - f.mean[j]!;
            f.std[j]! += dv * dv;
          }
        for (let j = 0; j < numFeatures; j++) {
          const sd = Math.sqrt(f.std[j]! / Math.max(1, numDocs));
          f.std[j] = sd > 1e-12 ? sd : 1;
        }
      } else if (step === 'quantileNormal') {
        f.quantiles = [];
        const col = new Float64Array(numDocs);
        const q = options.quantiles;
        if (q !== undefined && q !== 'sklearn' && !(Number.isInteger(q) && q >= 2 && q <= 1e6)) throw new RangeError(`options.quantiles must be an integer in [2, 1e6] or 'sklearn', got ${JSON.stringify(q)}`);
        const wanted = q === 'sklearn' ? Math.max(Math.min(Math.floor(numDocs / 30), 1000), 10) : (q ?? QUANTILES);
        const count = Math.max(1, Math.min(wanted, numDocs));
        for (let j = 0; j < numFeatures; j++) {
          for (let i = 0; i < numDocs; i++) col[i] = x[i * numFeatures + j]!;
          col.sort();
          const qs: number[] = [];
          for (let q = 0; q < count; q++) {
            const pos = count === 1 ? 0 : (q / (count - 1)) * (numDocs - 1);
            const lo = Math.floor(pos);
            const hi = Math.min(numDocs - 1, lo + 1);
            qs.push(numDocs === 0 ? 0 : col[lo]! + (pos - lo) * (col[hi]! - col[lo]!));
          }
          f.quantiles.push(qs);
        }
      }
      fitted.push(f);
      x = applyStep(f, x, numFeatures);
    }
    return new Preprocessor({ numFeatures, steps: fitted });
  }

  static fromJSON(state: PreprocessorState): Preprocessor {
    if (!state || typeof state.numFeatures !== 'number' || !Array.isArray(state.steps)) throw new TypeError('invalid preprocessor state');
    for (const s of state.steps) {
      if (!PREPROCESS_STEPS.includes(s.step)) throw new RangeError(`preprocess step '${s.step}' is not one of ${PREPROCESS_STEPS.join(', ')}`);
    }
    return new Preprocessor(state);
  }

  toJSON(): PreprocessorState {
    return { numFeatures: this.numFeatures, steps: this.steps };
  }

  /** A transformed copy of a feature matrix with numFeatures columns. */
  apply(features: Float32Array): Float32Array {
    if (features.length % Math.max(1, this.numFeatures) !== 0) {
      throw new RangeError(`features length ${features.length} is not a multiple of the model's ${this.numFeatures} features`);
    }
    let x = features;
    for (const s of this.steps) x = applyStep(s, x, this.numFeatures);
    return x === features ? features.slice() : x;
  }

  /**
   * Maps preprocessed features back to the raw feature space (the inverse of apply;
   * values clipped by quantileNormal come back as the training minimum / maximum).
   */
  invert(features: Float32Array): Float32Array {
    if (features.length % Math.max(1, this.numFeatures) !== 0) {
      throw new RangeError(`features length ${features.length} is not a multiple of the model's ${this.numFeatures} features`);
    }
    let x: Float32Array = features.slice();
    for (let k = this.steps.length - 1; k >= 0; k--) x = invertStep(this.steps[k]!, x, this.numFeatures);
    return x;
  }
}

// Standard normal CDF via erfc (W. J. Cody's rational approximation is overkill here: Abramowitz–Stegun 7.1.26 has |error| < 1.5e-7).
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-x * x);
  return z >= 0 ? 1 - erfc / 2 : erfc / 2;
}

function invertStep(s: FittedStep, x: Float32Array, numFeatures: number): Float32Array {
  const out = new Float32Array(x.length);
  const n = numFeatures === 0 ? 0 : x.length / numFeatures;
  if (s.step === 'log1p') {
    for (let i = 0; i < x.length; i++) out[i] = Math.sign(x[i]!) * Math.expm1(Math.abs(x[i]!));
  } else if (s.step === 'standardize') {
    for (let i = 0; i < n; i++) for (let j = 0; j < numFeatures; j++) out[i * numFeatures + j] = x[i * numFeatures + j]! * s.std![j]! + s.mean![j]!;
  } else {
    for (let j = 0; j < numFeatures; j++) {
      const qs = s.quantiles![j]!;
      const last = qs.length - 1;
      for (let i = 0; i < n; i++) {
        const p = Math.min(1, Math.max(0, normalCdf(x[i * numFeatures + j]!)));
        const pos = p * last;
        const lo = Math.min(last, Math.floor(pos));
        const hi = Math.min(last, lo + 1);
        out[i * numFeatures + j] = qs[lo]! + (pos - lo) * (qs[hi]! - qs[lo]!);
      }
    }
  }
  return out;
}

function applyStep(s: FittedStep, x: Float32Array, numFeatures: number): Float32Array {
  const out = new Float32Array(x.length);
  const n = numFeatures === 0 ? 0 : x.length / numFeatures;
  if (s.step === 'log1p') {
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      out[i] = Math.sign(v) * Math.log1p(Math.abs(v));
    }
  } else if (s.step === 'standardize') {
    for (let i = 0; i < n; i++) for (let j = 0; j < numFeatures; j++) out[i * numFeatures + j] = (x[i * numFeatures + j]! - s.mean![j]!) / s.std![j]!;
  } else {
    for (let i = 0; i < n; i++)
      for (let j = 0; j < numFeatures; j++) {
        const p = Math.min(1 - CLIP, Math.max(CLIP, cdf(s.quantiles![j]!, x[i * numFeatures + j]!)));
        out[i * numFeatures + j] = normalQuantile(p);
      }
  }
  return out;
}
