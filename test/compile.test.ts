import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compile, recordedRowCount } from '../src/plan/compile.js';
import { PlanState, type SourceBlock } from '../src/plan/state.js';

/** The compiler is pure: PlanState in, one statement out. No DuckDB here. */
function state(...blocks: SourceBlock[]): PlanState {
  const s = new PlanState();
  s.basePackId = 'p';
  s.packs.set('p', blocks);
  return s;
}
const parquet = (location: string, numRows?: number): SourceBlock => ({ id: location, packId: 'p', location, format: 'parquet', numRows });

describe('the compiler (golden SQL)', () => {
  it('compiles every step kind into one CTE chain, fusing consecutive filters and numbering parameters across steps', () => {
    const s = state(parquet('/d/a.parquet'), { id: 'b', packId: 'p', location: "/d/it's.csv", format: 'csv', csv: { delimiter: ';', header: true } });
    s.packs.set('j', [{ id: 'c', packId: 'j', location: '/d/r.json', format: 'json' }]);
    s.steps.push(
      { kind: 'filter', predicate: 'age >= $1', params: [18] },
      { kind: 'filter', predicate: "name <> $1 AND note = '$2'", params: ['x'] },
      { kind: 'excludeColumns', names: ['ssn', 'we"ird col'] },
      { kind: 'renameColumn', from: 'naïve', to: 'a b' },
      { kind: 'select', sql: 'SELECT * FROM bundle WHERE id < $1', params: [5n] },
      { kind: 'join', name: 'r"x', packId: 'j', joinType: 'Left', on: '$base.id = "r""x".id' },
      { kind: 'filter', predicate: 'x = $1', params: [true] },
    );
    const compiled = compile(s)!;
    assert.equal(compiled.sql, [
      `WITH __base AS (SELECT * FROM read_parquet('/d/a.parquet') UNION ALL BY NAME SELECT * FROM read_csv('/d/it''s.csv', delim = ';', header = true, buffer_size = 4194304)),`,
      `__step1 AS (SELECT * FROM __base WHERE (age >= $1) AND (name <> $2 AND note = '$2')),`,
      `__step2 AS (SELECT * EXCLUDE ("ssn", "we""ird col") FROM __step1),`,
      `__step3 AS (SELECT * RENAME ("naïve" AS "a b") FROM __step2),`,
      `__step4 AS (WITH bundle AS (SELECT * FROM __step3) SELECT * FROM (SELECT * FROM bundle WHERE id < $3`,
      `)),`,
      `__step5 AS (SELECT * FROM __step4 AS bundle LEFT JOIN (SELECT * FROM read_json('/d/r.json')) AS "r""x" ON (bundle.id = "r""x".id)),`,
      `__step6 AS (SELECT * FROM __step5 WHERE (x = $4))`,
      `SELECT * FROM __step6`,
    ].join('\n'));
    assert.deepEqual(compiled.params, [18, 'x', 5n, true]);
  });

  it('a bundle without sources compiles to nothing', () => {
    const s = new PlanState();
    s.steps.push({ kind: 'filter', predicate: 'true', params: [] });
    assert.equal(compile(s), undefined);
  });

  it("reads a join's sources when compiling, so attaches into the join after it count", () => {
    const s = state(parquet('/d/a.parquet'));
    s.packs.set('j', []);
    s.steps.push({ kind: 'join', name: 'r', packId: 'j', joinType: 'Inner', on: 'true' });
    s.packs.get('j')!.push({ id: 'late', packId: 'j', location: '/d/late.parquet', format: 'parquet' });
    assert.match(compile(s)!.sql, /INNER JOIN \(SELECT \* FROM read_parquet\('\/d\/late\.parquet'\)\) AS "r"/);
  });

  it('explicit columns and sniffed CSV options are passed to the readers', () => {
    const s = state(
      { id: 'x', packId: 'p', location: '/d/x.csv', format: 'csv', readOptions: "delim = ',', header = true", columns: [['a', 'INTEGER']] },
      { id: 'y', packId: 'p', location: '/d/y.json', format: 'json', columns: [['it\'s', 'VARCHAR']] },
    );
    assert.equal(compile(s)!.sql.split('\n')[0],
      `WITH __base AS (SELECT * FROM read_csv('/d/x.csv', delim = ',', header = true, buffer_size = 4194304) UNION ALL BY NAME SELECT * FROM read_json('/d/y.json', columns = {'it''s': 'VARCHAR'}))`);
  });

  it('row counts come from attach metadata unless a step may change rows', () => {
    const s = state(parquet('/d/a', 10), parquet('/d/b', 5));
    s.steps.push({ kind: 'renameColumn', from: 'a', to: 'b' }, { kind: 'excludeColumns', names: ['c'] });
    assert.equal(recordedRowCount(s), 15);
    s.steps.push({ kind: 'filter', predicate: 'true', params: [] });
    assert.equal(recordedRowCount(s), undefined);
    assert.equal(recordedRowCount(state(parquet('/d/a', 10), parquet('/d/unknown'))), undefined);
  });
});
