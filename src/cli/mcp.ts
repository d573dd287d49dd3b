import path from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';
import { BundleBuilder } from '../bundle/builder.js';
import type { Trust } from '../bundle/load.js';
import { objectsOf } from '../arrow/values.js';
import { paramFromText } from '../engine/params.js';
import { BundlebaseError, errorMessage } from '../errors.js';
import { BundleQueries } from '../server/queries.js';
import { resolveLimits } from '../server/limits.js';
import { openReadable } from './session.js';

/**
 * `bundlebase mcp <bundle>…`: a Model Context Protocol server on stdio for AI agents. Every read
 * goes through the servers' sandbox (server/queries.ts): one guarded SELECT over `bundle`, its
 * views and `bundle_info`, in a restricted database that reads only the bundle's own sources.
 */

export interface McpOptions {
  /** Most rows a query returns (more: `truncated`). */
  maxRows?: number;
  trust?: Trust;
  /** Version reported to clients. */
  version: string;
}

const DEFAULT_MAX_ROWS = 1000;
const DEFAULT_SAMPLE_ROWS = 10;

interface Served {
  /** The name tools take in `bundle`. */
  key: string;
  /** As given on the command line (the working state's staged changes live there). */
  location: string;
  queries: BundleQueries;
}

type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Values as JSON can carry them: 64-bit integers as numbers when exact else text, bytes as base64. */
function toJson(value: unknown): JsonValue {
  return JSON.parse(JSON.stringify(value, (_, v: unknown) => {
    if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
    if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
    return v;
  }) ?? 'null') as JsonValue;
}

/** A tool's answer: the JSON as text (what every client shows) and as structured content. */
function answer(result: Record<string, unknown>) {
  const json = toJson(result) as { [key: string]: JsonValue };
  return { content: [{ type: 'text' as const, text: JSON.stringify(json, null, 2) }], structuredContent: json };
}

/** A refused or failed call: the error's code and its first line, so the agent can correct itself. */
function failure(err: unknown) {
  const code = err instanceof BundlebaseError ? err.code : 'SQL_ERROR';
  return { isError: true, content: [{ type: 'text' as const, text: `${code}: ${errorMessage(err).split('\n')[0]}` }] };
}

/** Runs a tool body, turning any error into a tool error (the server never stops on one). */
function tool<A>(body: (args: A) => Promise<Record<string, unknown>>): (args: A) => Promise<ReturnType<typeof answer> | ReturnType<typeof failure>> {
  return async (args) => {
    try {
      return answer(await body(args));
    } catch (err) {
      return failure(err);
    }
  };
}

/** Distinct keys: the bundle's name, else its directory's; a repeated one gets `-2`, `-3`, … */
function keysFor(locations: readonly string[], names: readonly (string | undefined)[]): string[] {
  const used = new Set<string>();
  return locations.map((location, i) => {
    const base = (names[i] ?? path.basename(location.replace(/[/\\]+$/, ''))) || `bundle${i + 1}`;
    let key = base;
    for (let n = 2; used.has(key); n++) key = `${base}-${n}`;
    used.add(key);
    return key;
  });
}

/** The README-style description of a bundle: name, description, tables and columns. */
function readme(served: Served): string {
  const { bundle, tables } = served.queries;
  const lines = [`# ${bundle.name ?? served.key}`, '', bundle.description ?? '(no description)', '', `- bundle: \`${served.key}\``, `- url: ${bundle.url}`, `- version: ${bundle.version}`];
  for (const table of tables.filter((t) => t.schemaName === 'public')) {
    lines.push('', `## ${table.kind === 'TABLE' ? 'Table' : 'View'} \`${table.name}\``, '', '| column | type | nullable |', '| --- | --- | --- |');
    for (const f of table.schema.fields) lines.push(`| ${f.name} | ${String(f.type)} | ${f.nullable ? 'yes' : 'no'} |`);
  }
  lines.push('', 'Query it with the `query` tool: one read-only SELECT over `bundle`, the views by name and `bundle_info.history`, `status`, `blocks`, `indexes`, `views`, `config`, `columns`.');
  return `${lines.join('\n')}\n`;
}

const sqlParam = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** Starts the MCP server for `locations` on stdin/stdout; resolves when the client disconnects. */
export async function runMcpServer(locations: readonly string[], options: McpOptions): Promise<void> {
  const maxRows = options.maxRows ?? DEFAULT_MAX_ROWS;
  const opened: BundleQueries[] = [];
  try {
    for (const location of locations) opened.push(await BundleQueries.open(location, resolveLimits(), { trust: options.trust }));
  } catch (err) {
    await Promise.all(opened.map((q) => q.close()));
    throw err;
  }
  const keys = keysFor(locations, opened.map((q) => q.bundle.name));
  const bundles = opened.map((queries, i): Served => ({ key: keys[i]!, location: locations[i]!, queries }));
  const pick = (key: string | undefined): Served => {
    if (key === undefined && bundles.length === 1) return bundles[0]!;
    const found = bundles.find((b) => b.key === key);
    if (!found) throw new BundlebaseError(key === undefined ? 'INVALID_ARGUMENT' : 'NOT_FOUND', `${key === undefined ? 'Name the bundle' : `No bundle '${key}'`}: give "bundle" as one of ${keys.join(', ')}`);
    return found;
  };

  /** Rows of a guarded query, at most `limit`; `truncated` when the query had more. */
  const runQuery = async (served: Served, sql: string, params: readonly (string | number | boolean | null)[], limit: number) => {
    const { queries } = served;
    const connection = await queries.connect();
    try {
      const prepared = await queries.prepare(connection, sql);
      const values = params.map((v, i) => paramFromText(v === null ? null : String(v), prepared.parameterTypes[i]));
      const rows: Record<string, unknown>[] = [];
      let truncated = false;
      // one more row than returned tells whether there were more; the stream stops there
      outer: for await (const group of queries.stream(connection, prepared, values)) {
        for (const batch of group) {
          rows.push(...objectsOf(batch.slice(0, limit + 1 - rows.length)));
          if (rows.length > limit) {
            truncated = true;
            rows.length = limit;
            break outer;
          }
        }
      }
      return { columns: prepared.schema.fields.map((f) => ({ name: f.name, type: String(f.type) })), rows, row_count: rows.length, truncated };
    } finally {
      connection.close();
    }
  };

  const server = new McpServer({ name: 'bundlebase', version: options.version });
  const bundleArg = z.string().optional().describe(`Which bundle (see list_bundles): ${keys.join(', ')}${bundles.length === 1 ? '; may be left out' : ''}`);
  const readOnly = { readOnlyHint: true, openWorldHint: false };

  server.registerTool('list_bundles', {
    description: 'The bundles this server serves: name, description, url, version and the tables each can query (bundle, its views).',
    inputSchema: {},
    annotations: readOnly,
  }, tool(async () => ({
    bundles: bundles.map(({ key, queries }) => ({
      bundle: key, name: queries.bundle.name ?? null, description: queries.bundle.description ?? null, url: queries.bundle.url, version: queries.bundle.version,
      tables: queries.tables.filter((t) => t.schemaName === 'public').map((t) => t.name),
    })),
  })));

  server.registerTool('query', {
    description: `Run ONE read-only SQL SELECT (DuckDB dialect) over the table "bundle", each view by its name and bundle_info.history/status/blocks/indexes/views/config/columns. Parameters: $1, $2, … bound from "params". Returns at most ${maxRows} rows ("truncated": true when there were more: aggregate or add LIMIT). Files, other tables and table functions are refused.`,
    inputSchema: {
      sql: z.string().describe('e.g. SELECT region, sum(amount) AS total FROM bundle WHERE year = $1 GROUP BY 1 ORDER BY 2 DESC'),
      params: z.array(sqlParam).optional().describe('values for $1, $2, …'),
      max_rows: z.number().int().min(1).max(maxRows).optional().describe(`rows to return at most (default and cap ${maxRows})`),
      bundle: bundleArg,
    },
    annotations: readOnly,
  }, tool(async ({ sql, params, max_rows, bundle }) => runQuery(pick(bundle), sql, params ?? [], max_rows ?? maxRows)));

  server.registerTool('schema', {
    description: 'The columns (name, Arrow type, nullable) of the bundle, or of one of its views.',
    inputSchema: { table: z.string().optional().describe('"bundle" (default) or a view name'), bundle: bundleArg },
    annotations: readOnly,
  }, tool(async ({ table, bundle }) => {
    const served = pick(bundle);
    const name = table ?? 'bundle';
    const found = served.queries.tables.find((t) => t.schemaName === 'public' && t.name === name);
    if (!found) throw new BundlebaseError('NOT_FOUND', `No table '${name}'; tables: ${served.queries.tables.filter((t) => t.schemaName === 'public').map((t) => t.name).join(', ')}`);
    return { table: name, columns: found.schema.fields.map((f) => ({ name: f.name, type: String(f.type), nullable: f.nullable })) };
  }));

  server.registerTool('count', {
    description: 'The number of rows of the bundle.',
    inputSchema: { bundle: bundleArg },
    annotations: readOnly,
  }, tool(async ({ bundle }) => ({ rows: await pick(bundle).queries.bundle.numRows() })));

  server.registerTool('sample', {
    description: `The first rows of the bundle (default ${DEFAULT_SAMPLE_ROWS}).`,
    inputSchema: { limit: z.number().int().min(1).max(Math.min(100, maxRows)).optional(), bundle: bundleArg },
    annotations: readOnly,
  }, tool(async ({ limit, bundle }) => runQuery(pick(bundle), 'SELECT * FROM bundle', [], limit ?? DEFAULT_SAMPLE_ROWS)));

  server.registerTool('history', {
    description: 'The commits of the bundle, oldest first: version, author, message, timestamp and what each changed.',
    inputSchema: { bundle: bundleArg },
    annotations: readOnly,
  }, tool(async ({ bundle }) => ({
    commits: pick(bundle).queries.bundle.history().map((c) => ({ version: c.version, author: c.author, message: c.message, timestamp: c.timestamp, changes: c.changes.map((x) => x.description) })),
  })));

  server.registerTool('status', {
    description: 'Uncommitted changes staged in the bundle (by the bundlebase command line); queries read the committed bundle.',
    inputSchema: { bundle: bundleArg },
    annotations: readOnly,
  }, tool(async ({ bundle }) => {
    const working = await openReadable(pick(bundle).location);
    try {
      const changes = working instanceof BundleBuilder ? working.status().changes : [];
      return { changes: changes.map((c) => ({ description: c.description, operations: c.operations.map((op) => op.type) })) };
    } finally {
      await working.close();
    }
  }));

  server.registerTool('describe_data', {
    description: 'Profile columns in one pass: per column its type, rows, NULLs, approximate distinct values, min, max and, for numbers, mean and standard deviation.',
    inputSchema: { columns: z.array(z.string()).optional().describe('columns to profile (default: all)'), bundle: bundleArg },
    annotations: readOnly,
  }, tool(async ({ columns, bundle }) => ({ columns: await pick(bundle).queries.bundle.describeData(columns) })));

  for (const served of bundles) {
    server.registerResource(served.key, `bundlebase://${encodeURIComponent(served.key)}/README.md`, {
      title: served.queries.bundle.name ?? served.key,
      description: served.queries.bundle.description ?? `Bundle ${served.queries.bundle.url}`,
      mimeType: 'text/markdown',
    }, (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/markdown', text: readme(served) }] }));
  }

  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = resolve;
    process.stdin.once('end', resolve);
  });
  await server.connect(transport);
  await closed;
  await server.close();
  await Promise.all(opened.map((q) => q.close()));
}
