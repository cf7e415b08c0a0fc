// Prints one group of native/sources.json, space separated, for binding.gyp's
// "<!@(node scripts/native-sources.cjs kernels cudaStub addon)" expansion.
'use strict';
const path = require('path');
const list = require(path.join(__dirname, '..', 'native', 'sources.json'));
const groups = process.argv.slice(2);
const out = [];
for (const g of groups) {
  if (!Array.isArray(list[g])) {
    console.error(`native-sources: unknown group '${g}' (have: ${Object.keys(list).filter((k) => Array.isArray(list[k])).join(', ')})`);
    process.exit(1);
  }
  out.push(...list[g]);
}
process.stdout.write(out.join(' '));
