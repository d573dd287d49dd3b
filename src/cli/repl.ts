import { appendFile, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import type { BundleBuilder } from '../bundle/builder.js';
import { create } from '../bundle/open.js';
import { countRows, showHistory, showRows, showSchema, showStatus } from './commands.js';
import { EDIT_HELP, runEditStatement } from './editStatements.js';
import { write } from './output.js';
import { completeLine, type CompletionNames } from './repl-complete.js';
import { isLocalBundle, openShell, saveWorking } from './session.js';
import { leadingWord, StatementReader } from './statements.js';

const HELP = `SQL runs over the table "bundle" and the views by name (e.g. SELECT * FROM bundle LIMIT 5;).
A statement ends with ";" or a blank line, so it may span lines; several may share a line.
Commands (case-insensitive, a leading "." is allowed) end with their line (";" allowed):
  SCHEMA              columns and types          SHOW [n]        first n rows (default 20)
  COUNT               number of rows             EXPLAIN         DuckDB's plan
  HISTORY             commits                    STATUS          uncommitted changes
  ATTACH <url>        attach a source            FILTER <where>  keep matching rows
  DETACH <source>     remove a source            RESTORE <version>  make an earlier version current
  COMMIT <message>    commit the changes         UNDO / RESET    drop the last / all changes
  HELP                this text                  EXIT            leave (changes stay staged)
Edit statements end like SQL (";" or a blank line):
${EDIT_HELP}Tab completes commands, keywords, columns and views (quoted where SQL needs it, also after ").
Ctrl-C cancels a running query or drops the statement being typed; Ctrl-D or EXIT leaves.
`;

/** The REPL's own commands; any other statement is SQL. */
const COMMANDS = ['SCHEMA', 'SHOW', 'COUNT', 'EXPLAIN', 'HISTORY', 'STATUS', 'ATTACH', 'DETACH', 'RESTORE', 'FILTER', 'COMMIT', 'UNDO', 'RESET', 'HELP', 'EXIT', 'QUIT'];
const PROMPT = 'bundlebase> ';
const CONTINUATION = '        -> ';
const HISTORY_FILE = process.env.BUNDLEBASE_HISTORY ?? path.join(os.homedir(), '.bundlebase_history');

/** The interactive shell: one open builder, SQL and commands line by line. */
export async function startRepl(bundle?: string, input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout): Promise<void> {
  const builder: BundleBuilder = bundle ? await openShell(bundle) : await create();
  const names: CompletionNames = { columns: [], tables: ['bundle'] };
  const refreshNames = async () => {
    names.columns = (await builder.schema().catch(() => undefined))?.fields.map((f) => f.name) ?? names.columns;
    names.tables = ['bundle', ...builder.views().values()];
  };
  await refreshNames();
  const history = (await readFile(HISTORY_FILE, 'utf8').catch(() => '')).split('\n').filter(Boolean).reverse().slice(0, 1000);
  const reader = new StatementReader((statement) => COMMANDS.includes(leadingWord(statement)));
  const rl = readline.createInterface({
    input,
    output,
    prompt: PROMPT,
    terminal: Boolean(output.isTTY),
    history,
    historySize: 1000,
    completer: (line: string) => completeLine(line, reader.pending, names, COMMANDS),
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
    const [, word = '', rest = ''] = /^\.?(\w+)\s*([\s\S]*)$/.exec(text) ?? [];
    running = new AbortController();
    try {
      switch (word.toUpperCase()) {
        case 'EXIT':
        case 'QUIT':
          return false;
        case 'HELP':
          await write(out, HELP);
          break;
        case 'SCHEMA':
          await showSchema(builder, 'table', out);
          break;
        case 'SHOW':
          await showRows(builder, 'table', rest ? Number.parseInt(rest, 10) : 20, running.signal, out, out);
          break;
        case 'COUNT':
          await write(out, `${await countRows(builder)}\n`);
          break;
        case 'EXPLAIN':
          await write(out, `${await builder.explain()}\n`);
          break;
        case 'HISTORY':
          await showHistory(builder, 'table', out);
          break;
        case 'STATUS':
          await showStatus(builder, out);
          break;
        case 'ATTACH':
          await builder.attach(rest.replace(/^['"]|['"]$/g, ''));
          await write(out, `Attached ${rest}\n`);
          break;
        case 'DETACH':
          await builder.detach(rest.replace(/^['"]|['"]$/g, ''));
          await write(out, `Detached ${rest}\n`);
          break;
        case 'RESTORE':
          await builder.restore(/^\d+$/.test(rest) ? Number(rest) : rest);
          await write(out, `Restored ${rest} (commit to keep it)\n`);
          break;
        case 'FILTER':
          await builder.filter(rest);
          await write(out, `Filter ${rest}\n`);
          break;
        case 'COMMIT':
          await builder.commit(rest.replace(/^['"]|['"]$/g, '') || 'Commit from the REPL');
          await write(out, `Committed ${builder.version}\n`);
          break;
        case 'UNDO':
          await builder.undo();
          await write(out, 'Undone\n');
          break;
        case 'DELETE':
        case 'UPDATE':
        case 'ALWAYS':
        case 'ADD':
        case 'CAST':
        case 'NORMALIZE':
        case 'DESCRIBE':
          await runEditStatement(builder, text.replace(/^\./, ''), out);
          break;
        case 'RESET':
          await builder.reset();
          await write(out, 'All uncommitted changes dropped\n');
          break;
        default: {
          const result = await builder.select(text);
          try {
            await showRows(result, 'table', undefined, running.signal, out, out);
          } finally {
            await result.close();
          }
        }
      }
      await refreshNames();
    } catch (err) {
      // a query cancelled with Ctrl-C was already reported as "Cancelled"
      if (!running.signal.aborted) await write(out, `error: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}\n`);
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
