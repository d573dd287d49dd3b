#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { BundleBuilder, type Bundle } from '../bundle/builder.js';
import type { ParamValue } from '../engine/params.js';
import { BundlebaseError } from '../errors.js';
import type { AttachOptions } from '../bundle/inspect.js';
import { describeProblem } from '../bundle/sources.js';
import type { SaveAs } from '../bundle/stored.js';
import type { ProgressListener } from '../bundle/types.js';
import { archiveFileOf } from '../storage/archive.js';
import { schemeOf } from '../storage/location.js';
import { executeStatements } from '../bundle/execute.js';
import { countRows, printResult, showDiff, showHistory, showProfile, showRows, showSchema, showStatus } from './commands.js';
import { OUTPUT_FORMATS, write, type OutputFormat } from './output.js';
import { progressBar } from './progress.js';
import { createBundle, currentTrust, isLocalBundle, openAt, openCommitted, openReadable, openShell, openWorking, pathsFromCurrentDirectory, saveWorking, setTrust, sourceArgument } from './session.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const out = process.stdout;

/**
 * `-p` values are passed as text: DuckDB casts each to the type it infers from where `$n` is used
 * (`-p 007` stays '007' for a VARCHAR, becomes 7 for an INTEGER; 20-digit values stay exact).
 * `--param-type` gives the n-th value a type of its own instead.
 */
function params(values: string[] | undefined, types: string[] | undefined = []): ParamValue[] {
  return (values ?? []).map((v, i) => typedParam(v, types[i]));
}

const PARAM_TYPES = ['text', 'integer', 'number', 'boolean'] as const;

function typedParam(value: string, type: string | undefined): ParamValue {
  switch (type?.toLowerCase()) {
    case undefined:
    case 'text':
      return value;
    case 'integer':
      if (!/^-?\d+$/.test(value)) throw new BundlebaseError('INVALID_ARGUMENT', `'${value}' is not an integer`);
      return BigInt(value);
    case 'number': {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n)) throw new BundlebaseError('INVALID_ARGUMENT', `'${value}' is not a number`);
      return n;
    }
    case 'boolean':
      if (!/^(true|false)$/i.test(value)) throw new BundlebaseError('INVALID_ARGUMENT', `'${value}' is not true or false`);
      return value.toLowerCase() === 'true';
    default:
      throw new BundlebaseError('INVALID_ARGUMENT', `Unknown --param-type '${type}'; use ${PARAM_TYPES.join(', ')}`);
  }
}

/** A positive whole number of rows (`-n 10`); anything else is a usage error. */
function rowCount(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) === 0) throw new InvalidArgumentError(`'${value}' is not a positive whole number of rows`);
  return Number(value);
}

const atOption = () => new Option('--at <version>', 'read the bundle as of a committed version (12 hex or commit number)');
const formatOption = () => new Option('-f, --format <format>', 'output format').choices(OUTPUT_FORMATS).default('table');
const expandedOption = () => new Option('-x, --expanded', 'table: one block per row, a line per column (nothing cut)');
const paramOption = () => new Option('-p, --param <value>', 'value for $1, $2, … (repeatable; typed by where $n is used)').argParser((v: string, prev: string[] = []) => [...prev, v]);
const paramTypeOption = () => new Option('--param-type <type>', `type of the n-th -p value instead: ${PARAM_TYPES.join(', ')} (repeatable)`).argParser((v: string, prev: string[] = []) => [...prev, v]);

/** Runs a change on the bundle's working state and stages it for `commit`. */
async function change(bundle: string, apply: (b: BundleBuilder) => PromiseLike<unknown>): Promise<void> {
  const b = await openWorking(bundle);
  try {
    await apply(b);
    await saveWorking(bundle, b);
    const status = b.status();
    await write(out, `${status.changes.at(-1)?.description ?? 'Done'} (${status.changes.length} uncommitted change(s); commit with: bundlebase commit ${bundle} -m "…")\n`);
  } finally {
    await b.close();
  }
}

/** Runs a command on the bundle's working state (committed + staged changes). */
async function work(bundle: string, body: (b: BundleBuilder) => Promise<void>): Promise<void> {
  const b = await openWorking(bundle);
  try {
    await body(b);
  } finally {
    await b.close();
  }
}

/** Runs a read on the bundle's working state, or on a packed archive (`x.tar`, `x.tar.gz`). */
async function read(bundle: string, body: (b: Bundle | BundleBuilder) => Promise<void>): Promise<void> {
  const b = await openReadable(bundle);
  try {
    await body(b);
  } finally {
    await b.close();
  }
}

/** push / pull: the committed bundle copied to `target`, with a progress bar counting files. */
async function copyBundle(bundle: string, target: string, verb: string): Promise<void> {
  const b = await openCommitted(bundle);
  const bar = progressBar(verb, process.stderr, 'files');
  try {
    const result = await b.push(target, { onProgress: bar.onProgress });
    bar.stop();
    await write(out, `Copied ${b.url} to ${result.url}: ${result.commitsCopied} new commit(s), ${result.filesCopied} file(s)\n`);
  } finally {
    bar.stop();
    await b.close();
  }
}

function buildProgram(): Command {
  const program = new Command('bundlebase')
    .description('Like Docker, but for data: build, version and query data bundles')
    .version(VERSION)
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .option('--trust', "let the bundle read any file (only for bundles you trust: its SQL then runs unrestricted)")
    .option('--trust-path <path>', "let the bundle read this file or directory beyond its own (repeatable)", (v: string, prev: string[] = []) => [...prev, v])
    .hook('preAction', (command) => {
      const o = command.opts<{ trust?: boolean; trustPath?: string[] }>();
      setTrust(o.trust ? true : o.trustPath);
    });

  program.command('create').argument('<bundle>', 'directory of the new bundle').description('create an empty bundle')
    .action(async (bundle: string) => {
      const b = await createBundle(bundle);
      await write(out, `Created bundle ${b.url} (id ${b.id})\n`);
      await b.close();
    });
  program.command('attach').argument('<bundle>').argument('<url>', 'Parquet, CSV or JSON file (a path from the current directory) or URL').description('attach a data source (stored in the bundle unless --save-as ref)')
    .addOption(new Option('--format <format>', 'source format').choices(['parquet', 'csv', 'json']))
    .option('--delimiter <char>', 'CSV delimiter').option('--quote <char>', 'CSV quote character').option('--no-header', 'the CSV has no header line')
    .option('--join <name>', 'attach into this join')
    .addOption(saveAsOption())
    .action((bundle: string, url: string, o: AttachFlags & { join?: string }) =>
      storing(url, o.saveAs, (onProgress) => change(bundle, (b) => b.attach(sourceArgument(bundle, url), { ...attachOptions(o), join: o.join, onProgress }))));
  /** A source as the user typed it, or else the file it names from the current directory (as shells mean paths). */
  const bySource = async (source: string, apply: (source: string) => PromiseLike<unknown>) => {
    try {
      await apply(source);
    } catch (err) {
      const here = path.resolve(source);
      if (!(err instanceof BundlebaseError) || err.code !== 'NOT_FOUND' || schemeOf(source) !== undefined || here === source) throw err;
      await Promise.resolve(apply(here)).catch(() => Promise.reject(err));
    }
  };
  program.command('detach').argument('<bundle>').argument('<source>', 'the source as attached (see bundlebase status / history), or its block id').description('remove an attached source')
    .action((bundle: string, source: string) => change(bundle, (b) => bySource(source, (s) => b.detach(s))));
  program.command('replace').argument('<bundle>').argument('<source>', 'the source as attached, or its block id').argument('<url>', 'the new Parquet, CSV or JSON file')
    .description('swap an attached source for another one')
    .addOption(new Option('--format <format>', 'format of the new source').choices(['parquet', 'csv', 'json']))
    .option('--delimiter <char>', 'CSV delimiter').option('--quote <char>', 'CSV quote character').option('--no-header', 'the CSV has no header line')
    .addOption(saveAsOption())
    .action((bundle: string, source: string, url: string, o: AttachFlags) =>
      storing(url, o.saveAs, (onProgress) => change(bundle, (b) => bySource(source, (s) => b.replace(s, sourceArgument(bundle, url), { ...attachOptions(o), onProgress })))));
  program.command('verify').argument('<bundle>').description('re-hash the stored data and check the referenced sources (exit 1 when any is missing, damaged or changed)')
    .action((bundle: string) => read(bundle, async (b) => {
      const { ok, problems } = await b.verifyData();
      if (ok) return write(out, `${b.url}: every stored file and referenced source is intact\n`);
      for (const p of problems) await write(out, `${p.kind}: ${describeProblem(p)}\n`);
      throw new BundlebaseError('DATA_CORRUPT', `${problems.length} problem(s) in the data of ${b.url}`);
    }));
  program.command('restore').argument('<bundle>').argument('<version>', 'a committed version (12 hex or commit number; see bundlebase history)')
    .description("make an earlier version's pipeline current (a new change to commit; history keeps everything)")
    .action((bundle: string, version: string) => change(bundle, (b) => b.restore(/^\d+$/.test(version) ? Number(version) : version)));
  program.command('export-tar').argument('<bundle>').argument('<file>', 'the archive: .tar, .tar.gz or .tgz').option('--gzip', 'gzip it (default: by the name)')
    .description('pack the committed bundle, its chain, views and data into one archive (open it with any read command)')
    .action((bundle: string, file: string, o: { gzip?: boolean }) => read(bundle, async (b) => {
      await b.exportTar(file, { gzip: o.gzip });
      await write(out, `Exported ${b.url} to ${file}\n`);
    }));
  program.command('push').argument('<bundle>').argument('<url>', 'where to: a directory, s3://bucket/prefix, azure://container/prefix, or a .tar')
    .description('copy the committed bundle (every version, its chain, views and data) to another location, sending only what it lacks')
    .action((bundle: string, url: string) => copyBundle(bundle, url, 'Pushing'));
  program.command('pull').argument('<url>', 'the bundle: s3://…, azure://…, https://… or a directory').argument('<dir>', 'local directory to copy it into (or update)')
    .description('copy a bundle (every version, its chain, views and data) into a local directory, fetching only what it lacks')
    .action((url: string, dir: string) => copyBundle(url, dir, 'Pulling'));
  program.command('filter').argument('<bundle>').argument('<where>', "SQL condition, e.g. 'age >= $1'").description('keep the rows matching a condition')
    .addOption(paramOption()).addOption(paramTypeOption())
    .action((bundle: string, where: string, o: { param?: string[]; paramType?: string[] }) => change(bundle, (b) => b.filter(where, params(o.param, o.paramType))));
  const alwaysOption = () => new Option('--always', 'also apply it to sources attached later (default: only to the data attached now)');
  program.command('delete').argument('<bundle>').argument('<where>', "SQL condition, e.g. 'amount < $1'").description('delete the matching rows (recorded; the files stay as they are)')
    .addOption(paramOption()).addOption(paramTypeOption()).addOption(alwaysOption())
    .action((bundle: string, where: string, o: EditFlags) => change(bundle, (b) => b.delete(where, params(o.param, o.paramType), { always: o.always })));
  program.command('update').argument('<bundle>').description('set columns in the matching rows (recorded; the files stay as they are)')
    .requiredOption('--set <column=expression>', "a column and its new value as SQL, e.g. --set \"status='closed'\" (repeatable)", (v: string, prev: string[] = []) => [...prev, v])
    .option('--where <condition>', 'only the rows matching this SQL condition (default: every row)')
    .addOption(paramOption()).addOption(paramTypeOption()).addOption(alwaysOption())
    .action((bundle: string, o: EditFlags & { set: string[]; where?: string }) =>
      change(bundle, (b) => b.update(assignments(o.set), o.where, params(o.param, o.paramType), { always: o.always })));
  program.command('add-column').argument('<bundle>').argument('<name>').argument('<expression>', 'SQL over the row, e.g. "amount * 2"').description('add a computed column')
    .action((bundle: string, name: string, expression: string) => change(bundle, (b) => b.addColumn(name, expression)));
  program.command('cast-column').argument('<bundle>').argument('<column>').argument('<type>', 'a DuckDB type, e.g. INTEGER, DOUBLE, DATE, DECIMAL(9,2)')
    .description("change a column's type").option('--lenient', 'values that do not convert become NULL (default: they fail the read)')
    .option('--clean <regex>', "remove every match from the value's text first, e.g. '[^0-9.]'")
    .action((bundle: string, column: string, type: string, o: { lenient?: boolean; clean?: string }) => change(bundle, (b) => b.castColumn(column, type, { lenient: o.lenient, clean: o.clean })));
  program.command('normalize-column-names').argument('<bundle>').description('rename every column to lower snake case (see README)')
    .action((bundle: string) => change(bundle, (b) => b.normalizeColumnNames()));
  program.command('describe-data').argument('<bundle>').argument('[columns...]', 'columns to profile (default: all)')
    .description('profile columns: count, nulls, distinct values, min, max, mean, standard deviation (one pass)')
    .addOption(formatOption()).addOption(atOption())
    .action((bundle: string, columns: string[], o: { format: OutputFormat; at?: string }) => readAt(bundle, o.at, (b) => showProfile(b, columns, o.format)));
  program.command('remove-column').argument('<bundle>').argument('<columns...>').description('drop columns')
    .action((bundle: string, columns: string[]) => change(bundle, (b) => b.removeColumns(columns)));
  program.command('rename-column').argument('<bundle>').argument('<from>').argument('<to>').description('rename a column')
    .action((bundle: string, from: string, to: string) => change(bundle, (b) => b.renameColumn(from, to)));
  program.command('join').argument('<bundle>').argument('<name>').argument('<url>').argument('<on>', 'SQL over $base and <name>').description('join another source')
    .addOption(new Option('--how <type>', 'join type').choices(['inner', 'left', 'right', 'full']).default('inner'))
    .action((bundle: string, name: string, url: string, on: string, o: { how: string }) => change(bundle, (b) => b.join(name, sourceArgument(bundle, url), on, o.how)));
  program.command('create-index').argument('<bundle>').argument('<column>').description('index a column for equality / IN filters')
    .action((bundle: string, column: string) => {
      const bar = progressBar('Indexing');
      return change(bundle, (b) => b.createIndex(column, { onProgress: bar.onProgress }).finally(() => bar.stop()));
    });
  program.command('create-view').argument('<bundle>').argument('<name>').argument('<sql>', 'SQL over the table "bundle"').description('create a named view')
    .addOption(paramOption()).addOption(paramTypeOption())
    .action((bundle: string, name: string, sql: string, o: { param?: string[]; paramType?: string[] }) =>
      change(bundle, async (b) => b.createView(name, await b.select(sql, params(o.param, o.paramType)))));
  program.command('set-name').argument('<bundle>').argument('<name>').description("set the bundle's name")
    .action((bundle: string, name: string) => change(bundle, (b) => b.setName(name)));
  program.command('set-description').argument('<bundle>').argument('<text>').description("set the bundle's description")
    .action((bundle: string, text: string) => change(bundle, (b) => b.setDescription(text)));
  program.command('commit').argument('<bundle>').requiredOption('-m, --message <message>', 'commit message').description('commit the staged changes')
    .action((bundle: string, o: { message: string }) => work(bundle, async (b) => {
      const count = b.status().changes.length;
      // as git: an empty commit is a mistake (an attach that failed, a commit run twice)
      if (count === 0) throw new BundlebaseError('INVALID_ARGUMENT', `Nothing to commit in ${bundle}: no staged changes (see bundlebase status)`);
      await b.commit(o.message);
      await saveWorking(bundle, b);
      await write(out, `Committed ${b.version}: ${o.message} (${count} change(s))\n`);
    }));
  program.command('exec').argument('<bundle>').argument('<statements>', 'statements separated by ";" (README, "Statements"), e.g. "FILTER WHERE age > 20; COMMIT \'adults\'"')
    .description('run statements of the statement language; changes stay staged until a COMMIT statement or bundlebase commit')
    .addOption(formatOption())
    .action(async (bundle: string, sql: string, o: { format: OutputFormat }) => {
      // as the REPL: a local bundle with its staged changes, a bundle in a bucket as committed
      // (COMMIT publishes there); an archive is read-only
      const b = archiveFileOf(bundle) === undefined ? await openShell(bundle) : await openReadable(bundle);
      const writer = b instanceof BundleBuilder ? b : undefined;
      try {
        await executeStatements(sql, b, writer && pathsFromCurrentDirectory(bundle, writer), (result) => printResult(result, o.format));
      } finally {
        // the statements before a failing one stay staged, as in the REPL
        if (writer && isLocalBundle(bundle)) await saveWorking(bundle, writer);
        else if (writer && !writer.status().isEmpty()) process.stderr.write('Uncommitted changes dropped: a remote bundle has nowhere to stage them (end with COMMIT)\n');
        await b.close();
      }
    });
  program.command('status').argument('<bundle>').description('show uncommitted changes')
    // a remote bundle or an archive has nothing staged: it is read as committed
    .action((bundle: string) => (isLocalBundle(bundle) ? work(bundle, (b) => showStatus(b)) : read(bundle, () => write(out, 'No uncommitted changes\n'))));
  program.command('undo').argument('<bundle>').description('drop the last uncommitted change')
    .action((bundle: string) => work(bundle, async (b) => {
      const last = b.status().changes.at(-1);
      await b.undo();
      await saveWorking(bundle, b);
      await write(out, last ? `Undid: ${last.description}\n` : 'No uncommitted changes\n');
    }));
  program.command('reset').argument('<bundle>').description('drop all uncommitted changes')
    .action((bundle: string) => work(bundle, async (b) => {
      const count = b.status().changes.length;
      await b.reset();
      await saveWorking(bundle, b);
      await write(out, `Dropped ${count} uncommitted change(s)\n`);
    }));
  program.command('schema').argument('<bundle>').description('show the columns').addOption(formatOption()).addOption(atOption())
    .action((bundle: string, o: { format: OutputFormat; at?: string }) => readAt(bundle, o.at, (b) => showSchema(b, o.format)));
  program.command('count').argument('<bundle>').description('print the number of rows').addOption(atOption())
    .action((bundle: string, o: { at?: string }) => readAt(bundle, o.at, async (b) => write(out, `${await countRows(b)}\n`)));
  program.command('show').argument('<bundle>').description('show the first rows').addOption(formatOption()).addOption(atOption()).addOption(expandedOption())
    .option('-n, --rows <n>', 'how many rows', rowCount, 20)
    .action((bundle: string, o: { format: OutputFormat; rows: number; at?: string; expanded?: boolean }) =>
      readAt(bundle, o.at, (b) => showRows(b, o.format, o.rows, undefined, undefined, undefined, o.expanded)));
  program.command('query').argument('<bundle>').argument('<sql>', 'SQL over the table "bundle"').description('run SQL over the bundle')
    .addOption(formatOption()).addOption(paramOption()).addOption(paramTypeOption()).addOption(atOption()).addOption(expandedOption())
    .action((bundle: string, sql: string, o: { format: OutputFormat; param?: string[]; paramType?: string[]; at?: string; expanded?: boolean }) => readAt(bundle, o.at, async (b) => {
      const result = await b.select(sql, params(o.param, o.paramType));
      try {
        await showRows(result, o.format, undefined, undefined, undefined, undefined, o.expanded);
      } finally {
        await result.close();
      }
    }));
  program.command('drop-index').argument('<bundle>').argument('<column>').description('drop the index on a column')
    .action((bundle: string, column: string) => change(bundle, (b) => b.dropIndex(column)));
  program.command('rebuild-index').argument('<bundle>').argument('<column>').description("rebuild a column's index over every source")
    .action((bundle: string, column: string) => change(bundle, (b) => b.rebuildIndex(column)));
  program.command('reindex').argument('<bundle>').description('index the sources attached since each index was built')
    .action((bundle: string) => change(bundle, (b) => b.reindex()));
  program.command('rename-view').argument('<bundle>').argument('<from>').argument('<to>').description('rename a view')
    .action((bundle: string, from: string, to: string) => change(bundle, (b) => b.renameView(from, to)));
  program.command('drop-view').argument('<bundle>').argument('<name>').description('drop a view')
    .action((bundle: string, name: string) => change(bundle, (b) => b.dropView(name)));
  program.command('set-config').argument('<bundle>').argument('<key>').argument('<value>').description('set a configuration value')
    .option('--url-prefix <prefix>', 'only for URLs starting with this')
    .action((bundle: string, key: string, value: string, o: { urlPrefix?: string }) => change(bundle, (b) => b.setConfig(key, value, o.urlPrefix)));
  program.command('diff').argument('<bundle>').argument('<from>', 'version or commit number').argument('[to]', 'version (default: the latest)')
    .description('what changed between two versions: commits and columns')
    .action((bundle: string, from: string, to?: string) => read(bundle, (b) => showDiff(b, from, to)));
  program.command('explain').argument('<bundle>').description("show DuckDB's plan").action((bundle: string) => read(bundle, async (b) => write(out, `${await b.explain()}\n`)));
  program.command('history').argument('<bundle>').description('list the commits').addOption(formatOption())
    .action((bundle: string, o: { format: OutputFormat }) => read(bundle, (b) => showHistory(b, o.format)));
  program.command('export').argument('<bundle>').argument('<file>').description('write the rows to a file (streaming)')
    .addOption(new Option('-f, --format <format>', 'file format (default: from the extension)').choices(['parquet', 'csv', 'json']))
    .action((bundle: string, file: string, o: { format?: 'parquet' | 'csv' | 'json' }) => read(bundle, async (b) => {
      const bar = progressBar('Exporting');
      try {
        const { rows } = await b.export(file, { format: o.format, onProgress: bar.onProgress });
        bar.stop();
        await write(out, `Exported ${rows} rows to ${file}\n`);
      } finally {
        bar.stop();
      }
    }));
  const int = (v: string) => Number.parseInt(v, 10);
  program.command('serve').argument('<bundle>').description('serve the bundle read-only over PostgreSQL and Arrow Flight SQL')
    .option('--pg-port <port>', 'PostgreSQL wire port (0: any free port)', int)
    .option('--flight-port <port>', 'Arrow Flight SQL port (0: any free port)', int)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--password <password>', 'password clients must give (visible in ps: prefer $BUNDLEBASE_PASSWORD or --password-file)')
    .option('--password-file <file>', 'read the password from the first line of this file')
    .option('--tls-cert <file>', 'PEM certificate chain: serve TLS (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key')
    .option('--statement-timeout <seconds>', 'interrupt queries running longer (default 300)', Number)
    .option('--memory-limit <size>', "DuckDB memory limit of the server's database, e.g. 2GB")
    .option('--threads <n>', 'DuckDB threads', int)
    .option('--spill-dir <dir>', 'where DuckDB spills (default: a private temp dir)')
    .option('--max-connections <n>', 'client connections at once (default 100)', int)
    .option('--max-queries <n>', 'queries running at once (default 16)', int)
    .option('--writable', 'let authenticated clients run the statement language and commit (needs a password)')
    .action(async (bundle: string, o: ServeFlags) => {
      const { serve } = await import('../server/index.js');
      const ports = o.pgPort === undefined && o.flightPort === undefined ? { pgPort: 5433, flightPort: 50051 } : { pgPort: o.pgPort, flightPort: o.flightPort };
      if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new BundlebaseError('INVALID_ARGUMENT', 'TLS needs both --tls-cert and --tls-key');
      const servers = await serve(bundle, {
        ...ports,
        trust: currentTrust(),
        writable: o.writable,
        host: o.host,
        password: o.password,
        passwordFile: o.passwordFile,
        tls: o.tlsCert && o.tlsKey ? { cert: o.tlsCert, key: o.tlsKey } : undefined,
        limits: {
          statementTimeoutMs: o.statementTimeout === undefined ? undefined : o.statementTimeout * 1000,
          memoryLimit: o.memoryLimit,
          threads: o.threads,
          spillDirectory: o.spillDir,
          maxConnections: o.maxConnections,
          maxConcurrentQueries: o.maxQueries,
        },
      });
      if (servers.pgPort !== undefined) await write(out, `PostgreSQL: postgresql://${o.host}:${servers.pgPort}/bundle\n`);
      if (servers.flightPort !== undefined) await write(out, `Flight SQL: grpc${o.tlsCert ? '+tls' : ''}://${o.host}:${servers.flightPort}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => void servers.close().then(resolve);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
  program.command('mcp').argument('<bundles...>', 'bundles to serve (directories or urls)')
    .description('serve bundles read-only to AI agents over the Model Context Protocol (stdio)')
    .option('--max-rows <n>', 'most rows a query returns (default 1000)', rowCount)
    .action(async (bundles: string[], o: { maxRows?: number }) => {
      const { runMcpServer } = await import('./mcp.js');
      await runMcpServer(bundles, { maxRows: o.maxRows, trust: currentTrust(), version: VERSION });
    });
  program.command('repl').argument('[bundle]', 'bundle to open (an in-memory one when absent)').description('interactive SQL shell')
    .action(async (bundle?: string) => {
      const { startRepl } = await import('./repl.js');
      await startRepl(bundle);
    });
  program.command('completion').argument('<shell>', 'bash or zsh').description('print a shell completion script (source it, or save it where your shell looks)')
    .action(async (shell: string) => {
      if (shell !== 'bash' && shell !== 'zsh') throw new BundlebaseError('INVALID_ARGUMENT', `No completion for shell '${shell}'; use bash or zsh`);
      const { completionScript } = await import('./completion.js');
      await write(out, completionScript(program, shell));
    });
  addExamples(program);
  return program;
}

interface AttachFlags {
  format?: 'parquet' | 'csv' | 'json';
  delimiter?: string;
  quote?: string;
  header: boolean;
  saveAs?: SaveAs;
}

function attachOptions(o: AttachFlags): AttachOptions {
  return { format: o.format, delimiter: o.delimiter, quote: o.quote, header: o.header === false ? false : undefined, saveAs: o.saveAs };
}

const saveAsOption = () =>
  new Option('--save-as <how>', 'auto: store CSV/JSON as Parquet, copy Parquet (default for files); copy: store as is; parquet: always convert; ref: read in place').choices(['auto', 'copy', 'parquet', 'ref']);

/** Runs an attach with a progress bar (on a terminal) while its source is stored. */
async function storing(url: string, saveAs: SaveAs | undefined, attach: (onProgress?: ProgressListener) => Promise<void>): Promise<void> {
  // a Parquet file is copied (bytes), anything else converted by DuckDB (rows)
  const bytes = saveAs === 'copy' || (saveAs !== 'parquet' && /\.(parquet|pq)$/i.test(url));
  const bar = progressBar(`Storing ${path.basename(url)}`, process.stderr, bytes ? 'bytes' : 'rows');
  try {
    await attach(bar.onProgress);
  } finally {
    bar.stop();
  }
}

/** `Examples:` at the end of each main command's --help, as a user would type them. */
const EXAMPLES: Record<string, string[]> = {
  create: ['bundlebase create sales'],
  attach: ['bundlebase attach sales sales-2025.csv', "bundlebase attach sales export.txt --format csv --delimiter ';'"],
  filter: ["bundlebase filter sales 'amount > $1' -p 100", "bundlebase filter sales 'region = $1' -p North"],
  'remove-column': ['bundlebase remove-column sales internal_note ssn'],
  'rename-column': ['bundlebase rename-column sales fname first_name'],
  commit: ['bundlebase commit sales -m "Big sales only"'],
  status: ['bundlebase status sales'],
  count: ['bundlebase count sales', 'bundlebase count sales --at 1'],
  schema: ['bundlebase schema sales', 'bundlebase schema sales --format json'],
  show: ['bundlebase show sales', 'bundlebase show sales -n 5 -x', 'bundlebase show sales --at 1 --format csv | head'],
  query: [
    "bundlebase query sales 'SELECT region, sum(amount) AS total FROM bundle GROUP BY 1 ORDER BY 2 DESC'",
    "bundlebase query sales 'SELECT * FROM bundle WHERE id = $1' -p 42 -x",
    "bundlebase query sales 'SELECT * FROM bundle' --format csv > all.csv",
  ],
  export: ['bundlebase export sales big-sales.parquet', 'bundlebase export sales out.txt --format csv'],
  history: ['bundlebase history sales', 'bundlebase history sales --format json'],
  diff: ['bundlebase diff sales 1', 'bundlebase diff sales 1 3'],
  join: ["bundlebase join sales customers customers.csv '$base.customer_id = customers.id' --how left"],
  'create-view': ["bundlebase create-view sales north 'SELECT * FROM bundle WHERE region = $1' -p North"],
  'create-index': ['bundlebase create-index sales customer_id'],
  serve: ['bundlebase serve sales --pg-port 5433', 'psql -h 127.0.0.1 -p 5433 -c "SELECT count(*) FROM bundle"'],
  repl: ['bundlebase repl sales'],
  completion: ['source <(bundlebase completion bash)       # in ~/.bashrc', 'bundlebase completion zsh > "${fpath[1]}/_bundlebase"'],
};

function addExamples(program: Command): void {
  for (const command of program.commands) {
    const examples = EXAMPLES[command.name()];
    if (examples) command.addHelpText('after', `\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n`);
  }
}

interface EditFlags {
  param?: string[];
  paramType?: string[];
  always?: boolean;
}

/** `--set column=expression` values as update's mapping (split at the first `=`). */
function assignments(values: readonly string[]): Record<string, string> {
  const set: Record<string, string> = {};
  for (const value of values) {
    const at = value.indexOf('=');
    if (at <= 0) throw new BundlebaseError('INVALID_ARGUMENT', `--set '${value}' is not column=expression`);
    set[value.slice(0, at).trim()] = value.slice(at + 1).trim();
  }
  return set;
}

interface ServeFlags {
  writable?: boolean;
  pgPort?: number;
  flightPort?: number;
  host: string;
  password?: string;
  passwordFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  statementTimeout?: number;
  memoryLimit?: string;
  threads?: number;
  spillDir?: string;
  maxConnections?: number;
  maxQueries?: number;
}

/** A reader that stops early (`| head`) closes the pipe: that ends the command, successfully. */
function endQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
  }
}

/** Runs a read on the working state, or on the committed state as of `at` (version or commit number). */
async function readAt(bundle: string, at: string | undefined, body: (b: Bundle | BundleBuilder) => Promise<void>): Promise<void> {
  if (at === undefined) return read(bundle, body);
  const b = await openAt(bundle, at);
  try {
    await body(b);
  } finally {
    await b.close();
  }
}

/**
 * SIGINT, SIGTERM and SIGHUP end the command with the status their default action gives (128 +
 * the signal's number), but through process.exit, so the 'exit' hooks run (they remove the
 * process's private temporary directory: spills, in-memory bundles' files). A command that handles
 * the signal itself (serve stops its servers first) is left to do so.
 */
function exitOnSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (process.listenerCount(signal) === 1) process.exit(128 + os.constants.signals[signal]);
    });
  }
}

async function main(): Promise<number> {
  endQuietlyOnClosedPipe();
  exitOnSignals();
  try {
    await buildProgram().parseAsync(process.argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0 ? 0 : 2;
    }
    const message = err instanceof Error ? err.message : String(err);
    // one line: DuckDB's hints ("Candidate bindings: …") follow on the next lines; a syntax error keeps its pointer
    process.stderr.write(`error: ${message.startsWith('Syntax error') ? message : message.split('\n')[0]}\n`);
    if (process.env.BUNDLEBASE_DEBUG && err instanceof Error && !(err instanceof BundlebaseError)) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

// exit once output is flushed (DuckDB's threads would otherwise keep nothing alive, but be explicit)
main().then((code) => {
  process.exitCode = code;
});
