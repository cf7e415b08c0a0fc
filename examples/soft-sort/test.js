// The example's own test: values, and gradients against finite differences.
import assert from 'node:assert/strict';
import { softSort } from './index.js';

const input = [[0.3, 2, 1], [5, -1], [7]];
const { sorted, backward } = softSort(input, { tau: 0.05 });
assert.deepEqual(sorted.map((l) => l.map((v) => Math.round(v * 100) / 100)), [[2, 1, 0.3], [5, -1], [7]]);

const grads = [[1, -0.5, 0.25], [0.7, 0.1], [1]];
const g = backward(grads);
const loss = (lists) => softSort(lists, { tau: 1 }).sorted.flat().reduce((s, v, i) => s + v * grads.flat()[i], 0);
const soft = softSort(input, { tau: 1 }).backward(grads);
const h = 1e-2;
input.forEach((l, q) =>
  l.forEach((_, i) => {
    const up = input.map((x) => x.slice());
    const dn = input.map((x) => x.slice());
    up[q][i] += h;
    dn[q][i] -= h;
    const fd = (loss(up) - loss(dn)) / (2 * h);
    assert.ok(Math.abs(fd - soft[q][i]) < 2e-2, `d/d input[${q}][${i}]: ${soft[q][i]} vs finite difference ${fd}`);
  }),
);
assert.equal(g.length, 3);
console.log('soft-sort example: ok');
