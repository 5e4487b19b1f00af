// Validate the AsyncAPI document with the AsyncAPI initiative's own parser (an
// independent validator of what crates/relay-catalog generates).
//
//   npm ci --prefix docs                      # once; works offline afterwards
//   node docs/validate-asyncapi.mjs           # validates docs/asyncapi.json
//   node docs/validate-asyncapi.mjs FILE      # or another file
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Parser } from '@asyncapi/parser';

const file = process.argv[2] ?? fileURLToPath(new URL('./asyncapi.json', import.meta.url));
const parser = new Parser();
const { document, diagnostics } = await parser.parse(readFileSync(file, 'utf8'));
const severities = ['error', 'warning', 'info', 'hint'];
for (const d of diagnostics) {
  const level = severities[d.severity] ?? d.severity;
  console.error(`${level}: ${d.message} (at ${d.path.join('.') || '/'})`);
}
const errors = diagnostics.filter((d) => d.severity === 0);
if (!document || errors.length > 0) {
  console.error(`INVALID: ${file} (${errors.length} errors)`);
  process.exit(1);
}
console.log(
  `valid AsyncAPI ${document.version()}: ${file} ` +
    `(${document.channels().length} channels, ${document.messages().length} messages)`,
);
