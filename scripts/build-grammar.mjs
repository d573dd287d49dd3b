// Compiles the statement language's grammar (src/language/grammar.peggy) into the parser that
// src/language/parse.ts imports. Part of `npm run build`; the generated file is not committed.
import { readFileSync, writeFileSync } from 'node:fs';
import peggy from 'peggy';

const grammar = new URL('../src/language/grammar.peggy', import.meta.url);
const target = new URL('../src/language/grammar.generated.ts', import.meta.url);
const source = peggy.generate(readFileSync(grammar, 'utf8'), { output: 'source', format: 'es', grammarSource: 'grammar.peggy' });
// peggy writes JavaScript; parse.ts gives it its types
writeFileSync(target, `// @ts-nocheck\n${source}`);
