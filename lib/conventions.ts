// NDCG and friends are not one formula: gain, discount, queries with no
// relevant document, lists shorter than k and ties all vary between the LETOR
// scripts and the libraries. ordo names every choice; README.md, "Evaluation
// conventions", defines each preset fully.

export type GainRule = 'exp2' | 'linear';
export type DiscountRule = 'log2' | 'letor';
export type NoRelevantRule = 'zero' | 'one' | 'skip';
export type ShortListRule = 'truncate' | 'zero';
export type TieRule = 'stable' | 'average' | 'pessimistic';

export interface Convention {
  /** Preset name, or 'custom' when any field differs from the preset it started from. */
  name: string;
  /** 'exp2': gain 2^l - 1; 'linear': gain l. */
  gain: GainRule;
  /** 'log2': 1/log2(i+1) at rank i; 'letor': ranks 1 and 2 undiscounted, rank i >= 3 weighted 1/log2(i). */
  discount: DiscountRule;
  /** Value of NDCG / AP / MRR for a query with no relevant document: 0, 1, or left out of the mean ('skip'). */
  noRelevant: NoRelevantRule;
  /** Query with fewer than k documents: 'truncate' (NDCG@k = NDCG@n, P@k over n) or LETOR 4.0's 'zero' (NDCG@k = 0, P@k over k). */
  shortList: ShortListRule;
  /** Equal scores: 'stable' (input order), 'average' (expected value over tied orders, as sklearn), 'pessimistic' (relevant last). */
  ties: TieRule;
  /** A document counts as relevant (MAP, P@k, MRR) when label >= this. */
  relevanceThreshold: number;
  /** ERR's maximum grade g_max; null means the largest label in the evaluated data. */
  errMaxLabel: number | null;
}

const base = { relevanceThreshold: 1, errMaxLabel: null } as const;

export const PRESETS = {
  /** ordo's default: the common formula of papers, with no inflation from empty queries. */
  standard: { name: 'standard', gain: 'exp2', discount: 'log2', noRelevant: 'zero', shortList: 'truncate', ties: 'stable', ...base },
  /** LETOR 4.0 evaluation script (Eval-Score-4.0.pl), used by the official MQ2007/MQ2008 baselines. */
  letor4: { name: 'letor4', gain: 'exp2', discount: 'letor', noRelevant: 'zero', shortList: 'zero', ties: 'stable', ...base },
  /** As letor4, but a query shorter than k gets its NDCG at its last position (LETOR 3.0, OHSUMED baselines). */
  letor3: { name: 'letor3', gain: 'exp2', discount: 'letor', noRelevant: 'zero', shortList: 'truncate', ties: 'stable', ...base },
  /** LightGBM's ndcg/map metrics: a query with no relevant document scores 1. */
  lightgbm: { name: 'lightgbm', gain: 'exp2', discount: 'log2', noRelevant: 'one', shortList: 'truncate', ties: 'stable', ...base },
  /** allRank's metrics (filler value 1 for queries with no relevant document). */
  allrank: { name: 'allrank', gain: 'exp2', discount: 'log2', noRelevant: 'one', shortList: 'truncate', ties: 'stable', ...base },
  /** sklearn.metrics.ndcg_score: linear gain, tie-averaged DCG, no relevant -> 0. */
  sklearn: { name: 'sklearn', gain: 'linear', discount: 'log2', noRelevant: 'zero', shortList: 'truncate', ties: 'average', ...base },
} as const satisfies Record<string, Convention>;

export type PresetName = keyof typeof PRESETS;
export const DEFAULT_CONVENTION: PresetName = 'standard';

const CHOICES: Record<string, readonly string[]> = {
  gain: ['exp2', 'linear'],
  discount: ['log2', 'letor'],
  noRelevant: ['zero', 'one', 'skip'],
  shortList: ['truncate', 'zero'],
  ties: ['stable', 'average', 'pessimistic'],
};

export type ConventionInput = PresetName | (Partial<Convention> & { preset?: PresetName });

/** A full Convention from a preset name, or a preset (default 'standard') with fields overridden. */
export function resolveConvention(input: ConventionInput | undefined = DEFAULT_CONVENTION): Convention {
  if (typeof input === 'string') {
    if (!(input in PRESETS)) {
      throw new RangeError(`convention '${input}' is not a preset; use one of ${Object.keys(PRESETS).join(', ')}`);
    }
    return { ...PRESETS[input as PresetName] };
  }
  if (typeof input !== 'object' || input === null) throw new TypeError('convention must be a preset name or an object');
  // A resolved Convention passed back in keeps its preset as the base.
  const namedPreset = typeof input.name === 'string' && input.name in PRESETS ? (input.name as PresetName) : undefined;
  const presetName = input.preset ?? namedPreset ?? DEFAULT_CONVENTION;
  if (!(presetName in PRESETS)) {
    throw new RangeError(`convention.preset '${presetName}' is not a preset; use one of ${Object.keys(PRESETS).join(', ')}`);
  }
  const out: Convention = { ...PRESETS[presetName] };
  let changed = false;
  for (const [key, value] of Object.entries(input)) {
    if (key === 'preset' || key === 'name' || value === undefined) continue;
    if (key in CHOICES) {
      if (!CHOICES[key]!.includes(value as string)) {
        throw new RangeError(`convention.${key} = ${JSON.stringify(value)}; allowed: ${CHOICES[key]!.join(', ')}`);
      }
    } else if (key === 'relevanceThreshold') {
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new RangeError('convention.relevanceThreshold must be a finite number');
    } else if (key === 'errMaxLabel') {
      if (value !== null && (typeof value !== 'number' || !(value >= 0))) throw new RangeError('convention.errMaxLabel must be a number >= 0 or null');
    } else {
      throw new RangeError(`convention.${key} is not a convention field; fields: ${[...Object.keys(CHOICES), 'relevanceThreshold', 'errMaxLabel', 'preset'].join(', ')}`);
    }
    if ((out as unknown as Record<string, unknown>)[key] !== value) {
      (out as unknown as Record<string, unknown>)[key] = value;
      changed = true;
    }
  }
  if (changed) out.name = `custom (from ${presetName})`;
  return out;
}

/** Human-readable definition, printed next to every result. */
export function describeConvention(c: Convention): string {
  const gain = c.gain === 'exp2' ? 'gain 2^l-1' : 'gain l';
  const disc = c.discount === 'log2' ? 'discount 1/log2(i+1)' : 'discount LETOR (1 at ranks 1-2, then 1/log2(i))';
  const empty = c.noRelevant === 'skip' ? 'no-relevant queries left out' : `no-relevant queries score ${c.noRelevant === 'one' ? 1 : 0}`;
  const short = c.shortList === 'zero' ? 'lists shorter than k score 0 (NDCG)' : 'short lists truncated';
  return `${c.name}: ${gain}, ${disc}, ${empty}, ${short}, ties ${c.ties}, relevant = label >= ${c.relevanceThreshold}`;
}
