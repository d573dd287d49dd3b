import { appendFile, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import type { BundleBuilder } from '../bundle/builder.js';
import { create } from '../bundle/open.js';
import { countRows, showHistory, showRows, showSchema, showStatus } from './commands.js';
import { write } from './output.js';
import { openWorking, saveWorking } from './session.js';

const HELP = `Statements run as SQL over the table "bundle" (e.g. SELECT * FROM bundle LIMIT 5).
Commands (case-insensitive, a leading "." is allowed):
  SCHEMA              columns and types          SHOW [n]        first n rows (default 20)
  COUNT               number of rows             EXPLAIN         DuckDB's plan
  HISTORY             commits                    STATUS          uncommitted changes
  ATTACH <url>        attach a source            FILTER <where>  keep matching rows
  DETACH <source>     remove a source            RESTORE <version>  make an earlier version current
  COMMIT <message>    commit the changes         UNDO / RESET    drop the last / all changes
  HELP                this text                  EXIT            leave (changes stay staged)
Ctrl-C cancels a running query; Ctrl-D or EXIT leaves.
`;

const COMMANDS = ['SCHEMA', 'SHOW', 'COUNT', 'EXPLAIN', 'HISTORY', 'STATUS', 'ATTACH', 'DETACH', 'RESTORE', 'FILTER', 'COMMIT', 'UNDO', 'RESET', 'HELP', 'EXIT', 'SELECT', 'FROM', 'WHERE', 'GROUP BY', 'ORDER BY', 'LIMIT', 'bundle'];
const HISTORY_FILE = process.env.BUNDLEBASE_HISTORY ?? path.join(os.homedir(), '.bundlebase_history');

/** The interactive shell: one open builder, SQL and commands line by line. */
export async function startRepl(bundle?: string, input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout): Promise<void> {
  const builder: BundleBuilder = bundle ? await openWorking(bundle) : await create();
  let columns: string[] = [];
  const refreshColumns = async () => {
    columns = (await builder.schema().catch(() => undefined))?.fields.map((f) => f.name) ?? columns;
  };
  await refreshColumns();
  const history = (await readFile(HISTORY_FILE, 'utf8').catch(() => '')).split('\n').filter(Boolean).reverse().slice(0, 1000);
  const rl = readline.createInterface({
    input,
    output,
    prompt: 'bundlebase> ',
    terminal: Boolean(output.isTTY),
    history,
    historySize: 1000,
    completer: (line: string) => {
      const word = /[\w."]*$/.exec(line)?.[0] ?? '';
      const candidates = [...COMMANDS, ...columns];
      const hits = candidates.filter((c) => c.toLowerCase().startsWith(word.toLowerCase().replace(/^\./, '')));
      return [hits, word.replace(/^\./, '')];
    },
  });
  // write() only needs a writable stream; the REPL's output may be a test's stream rather than a TTY
  const out = output as unknown as NodeJS.WriteStream;
  let running: AbortController | undefined;
  rl.on('SIGINT', () => {
    if (running) {
      running.abort();
      void write(out, '\nCancelled\n');
    } else {
      void write(out, '\n(Type EXIT or press Ctrl-D to leave)\n');
      rl.prompt();
    }
  });
  await write(out, `bundlebase ${bundle ? `— ${builder.url}` : '— in-memory bundle'}; HELP for commands\n`);

  const run = async (line: string): Promise<boolean> => {
    const text = line.trim().replace(/;+$/, '');
    if (!text) return true;
    await appendFile(HISTORY_FILE, `${text}\n`).catch(() => undefined);
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
      await refreshColumns();
    } catch (err) {
      // a query cancelled with Ctrl-C was already reported as "Cancelled"
      if (!running.signal.aborted) await write(out, `error: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}\n`);
    } finally {
      running = undefined;
    }
    return true;
  };

  rl.prompt();
  // lines are handled one at a time, in order, even when pasted or piped in together
  for await (const line of rl) {
    if (!(await run(line))) break;
    rl.prompt();
  }
  rl.close();
  if (bundle) {
    await saveWorking(bundle, builder);
    if (!builder.status().isEmpty()) await write(out, `Uncommitted changes are staged in ${builder.url}\n`);
  }
  await builder.close();
}
