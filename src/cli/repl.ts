import { appendFile, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import type { BundleBuilder } from '../bundle/builder.js';
import { create } from '../bundle/open.js';
import { executeStatements } from '../bundle/execute.js';
import { isCompleteWithoutSql, STATEMENT_KEYWORDS } from '../language/parse.js';
import { printResult } from './commands.js';
import { write } from './output.js';
import { completeLine, type CompletionNames } from './repl-complete.js';
import { isLocalBundle, openShell, pathsFromCurrentDirectory, saveWorking } from './session.js';
import { leadingWord, StatementReader } from './statements.js';

const HELP = `Statements end with ";" or a blank line, so they may span lines; several may share a line.
Statements without SQL in them (SHOW …, COMMIT '…', ATTACH '…', UNDO, …) also end with their line.
  SELECT … | WITH …                      SQL over the table "bundle" and the views by name
  SHOW HISTORY | STATUS | SCHEMA | COUNT | VIEWS      EXPLAIN [<select>]      DESCRIBE DATA [<col>, …]
  ATTACH '<url>' [TO <join>] [WITH (format = 'csv', delimiter = ';', header = true)]
  DETACH '<source>'                      REPLACE '<source>' WITH '<url>'
  FILTER WHERE <cond>                    [ALWAYS] DELETE FROM bundle WHERE <cond>
  [ALWAYS] UPDATE bundle SET <col> = <expr>, … [WHERE <cond>]     (ALWAYS: also sources attached later)
  ADD COLUMN <name> AS <expr>            DROP COLUMN <name>, …           RENAME COLUMN <a> TO <b>
  CAST COLUMN <col> TO <type> [CLEAN '<regex>'] [LENIENT]            NORMALIZE COLUMN NAMES
  [INNER | LEFT | RIGHT | FULL] JOIN '<url>' AS <name> ON <cond>
  CREATE VIEW <name> AS <select>         DROP VIEW <name>                RENAME VIEW <a> TO <b>
  CREATE INDEX ON <col>                  DROP INDEX <col>                REBUILD INDEX ON <col>    REINDEX
  SET NAME '<name>'                      SET DESCRIPTION '<text>'        SET CONFIG <key> = '<value>' [FOR '<prefix>']
  COMMIT '<message>'                     UNDO / RESET (drop the last / all changes)      RESTORE <version>
  HELP                                   EXIT (changes stay staged)
Tab completes statements, keywords, columns and views (quoted where SQL needs it, also after ").
Ctrl-C cancels a running query or drops the statement being typed; Ctrl-D or EXIT leaves.
`;

/** The REPL's own commands, beside the statement language; they end with their line. */
const COMMANDS = ['HELP', 'EXIT', 'QUIT'];
const PROMPT = 'bundlebase> ';
const CONTINUATION = '        -> ';
const HISTORY_FILE = process.env.BUNDLEBASE_HISTORY ?? path.join(os.homedir(), '.bundlebase_history');

/** The interactive shell: one open builder, SQL and commands line by line. */
export async function startRepl(bundle?: string, input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout): Promise<void> {
  const builder: BundleBuilder = bundle ? await openShell(bundle) : await create();
  const writer = pathsFromCurrentDirectory(bundle ?? builder.url, builder);
  const names: CompletionNames = { columns: [], tables: ['bundle'] };
  const refreshNames = async () => {
    names.columns = (await builder.schema().catch(() => undefined))?.fields.map((f) => f.name) ?? names.columns;
    names.tables = ['bundle', ...builder.views().values()];
  };
  await refreshNames();
  const history = (await readFile(HISTORY_FILE, 'utf8').catch(() => '')).split('\n').filter(Boolean).reverse().slice(0, 1000);
  const reader = new StatementReader((statement) => COMMANDS.includes(leadingWord(statement)) || isCompleteWithoutSql(statement));
  const rl = readline.createInterface({
    input,
    output,
    prompt: PROMPT,
    terminal: Boolean(output.isTTY),
    history,
    historySize: 1000,
    completer: (line: string) => completeLine(line, reader.pending, names, [...STATEMENT_KEYWORDS, ...COMMANDS]),
  });
  // write() only needs a writable stream; the REPL's output may be a test's stream rather than a TTY
  const out = output as unknown as NodeJS.WriteStream;
  let running: AbortController | undefined;
  let typed: string[] = []; // the lines of the statement being typed
  const prompt = () => {
    rl.setPrompt(reader.pending ? CONTINUATION : PROMPT);
    rl.prompt();
  };
  /** What was typed since nothing was pending becomes one history entry (readline kept each line). */
  const remember = async (entry: string, lines: string[]) => {
    for (const line of lines.reverse()) if (history[0] === line) history.shift();
    if (history[0] !== entry) history.unshift(entry);
    await appendFile(HISTORY_FILE, `${entry}\n`).catch(() => undefined);
  };

  rl.on('SIGINT', () => {
    if (running) {
      running.abort();
      void write(out, '\nCancelled\n');
    } else if (reader.pending || rl.line) {
      // drop the statement being typed, as shells do
      reader.discard();
      typed = [];
      rl.write(null, { ctrl: true, name: 'e' });
      rl.write(null, { ctrl: true, name: 'u' });
      void write(out, '\n');
      prompt();
    } else {
      void write(out, '\n(Type EXIT or press Ctrl-D to leave)\n');
      rl.prompt();
    }
  });
  await write(out, `bundlebase ${bundle ? `— ${builder.url}` : '— in-memory bundle'}; HELP for commands\n`);

  const run = async (text: string): Promise<boolean> => {
    const command = leadingWord(text);
    if (command === 'EXIT' || command === 'QUIT') return false;
    if (command === 'HELP') {
      await write(out, HELP);
      return true;
    }
    running = new AbortController();
    const { signal } = running;
    try {
      await executeStatements(text, builder, writer, (result) => printResult(result, 'table', signal, out, out));
      await refreshNames();
    } catch (err) {
      // a query cancelled with Ctrl-C was already reported as "Cancelled"
      if (!signal.aborted) await write(out, `error: ${errorLines(err)}\n`);
    } finally {
      running = undefined;
    }
    return true;
  };

  prompt();
  // lines are handled one at a time, in order, even when pasted or piped in together
  let leaving = false;
  for await (const line of rl) {
    typed.push(line);
    const { statements, history: entry } = reader.feed(line);
    if (entry) await remember(entry, typed);
    if (!reader.pending) typed = [];
    for (const statement of statements) if (!leaving) leaving = !(await run(statement));
    if (leaving) break;
    prompt();
  }
  // piped input may end without a last ";" (Ctrl-D on a terminal leaves instead)
  if (!leaving && !rl.terminal) for (const statement of reader.end()) if (!leaving) leaving = !(await run(statement));
  rl.close();
  if (bundle && isLocalBundle(bundle)) {
    await saveWorking(bundle, builder);
    if (!builder.status().isEmpty()) await write(out, `Uncommitted changes are staged in ${builder.url}\n`);
  } else if (bundle && !builder.status().isEmpty()) {
    await write(out, `Uncommitted changes dropped: a remote bundle has nowhere to stage them (COMMIT before leaving)\n`);
  }
  await builder.close();
}

/** An error for the terminal: a syntax error with its pointer line, anything else its first line (DuckDB's hints follow). */
function errorLines(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return /^(?:Statement \d+ \([^)]*\): )?Syntax error/.test(message) ? message : message.split('\n')[0]!;
}
