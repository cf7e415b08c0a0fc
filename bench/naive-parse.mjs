// The naive JavaScript SVMlight reader the parse benchmarks compare ordo's native reader with
// (bench/parse.mjs, bench/suite.mjs): split lines and tokens, a Map per row, then a dense Float32Array.
// Returns the number of rows read.
import { readFileSync } from 'node:fs';

export function naiveJsParse(path) {
  const text = readFileSync(path, 'utf8');
  const labels = [];
  const rows = [];
  let width = 0;
  for (const line of text.split('\n')) {
    const data = line.split('#')[0].trim();
    if (!data) continue;
    const tok = data.split(/\s+/);
    labels.push(parseFloat(tok[0]));
    const row = new Map();
    for (let i = 1; i < tok.length; i++) {
      const [k, v] = tok[i].split(':');
      if (k === 'qid') continue;
      const idx = parseInt(k, 10);
      row.set(idx, parseFloat(v));
      if (idx > width) width = idx;
    }
    rows.push(row);
  }
  const features = new Float32Array(rows.length * width);
  rows.forEach((r, i) => r.forEach((v, k) => (features[i * width + k - 1] = v)));
  return rows.length;
}
