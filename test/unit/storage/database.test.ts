/** The SQL builders every store uses: statements built from parameters, never by editing SQL text. */
import { expect } from 'chai';
import { conditions, insertInto, isUniqueViolation } from '../../../services/keyward/src/storage/database.ts';

describe('storage: SQL builders', () => {
  describe('conditions', () => {
    it('is empty until something is added', () => {
      const c = conditions();
      expect([c.where(), c.params]).to.deep.equal(['', []]);
    });

    it('numbers each bound value in order, through add, bind and page', () => {
      const c = conditions(["status = 'pending'"]);
      c.add('realm = ?', 'demo');
      c.add('(a = ? OR b = ?)', 7); // every ? of one fragment names the same value
      c.raw(`(id = ANY(${c.bind(['x', 'y'])}::text[]) OR username = ${c.bind('alice')})`);
      expect(c.where()).to.equal(
        "WHERE status = 'pending' AND realm = $1 AND (a = $2 OR b = $2) AND (id = ANY($3::text[]) OR username = $4)",
      );
      expect(c.page(50, 100)).to.equal('LIMIT $5 OFFSET $6');
      expect(c.params).to.deep.equal(['demo', 7, ['x', 'y'], 'alice', 50, 100]);
    });

    it('continues the numbering of initial parameters', () => {
      const c = conditions(['realm = $1'], ['demo']);
      c.add('at >= ?', 'T');
      expect([c.where(), c.params]).to.deep.equal(['WHERE realm = $1 AND at >= $2', ['demo', 'T']]);
    });
  });

  describe('insertInto', () => {
    it("binds one parameter per column, in the row's order", () => {
      expect(insertInto('realm_settings', { realm: 'demo', key: 'devices', value: '{}' })).to.deep.equal({
        sql: 'INSERT INTO realm_settings (realm, key, value) VALUES ($1, $2, $3)',
        params: ['demo', 'devices', '{}'],
      });
    });

    it('writes several rows in one statement, numbered from firstParam to join another statement', () => {
      expect(
        insertInto(
          't',
          [
            { a: 1, b: null },
            { a: 2, b: 'x' },
          ],
          4,
        ),
      ).to.deep.equal({
        sql: 'INSERT INTO t (a, b) VALUES ($4, $5), ($6, $7)',
        params: [1, null, 2, 'x'],
      });
    });

    const misuse: Array<[string, () => unknown]> = [
      ['a table name that is not an identifier', () => insertInto('t; DROP TABLE x', { a: 1 })],
      ['a column name that is not an identifier', () => insertInto('t', { 'a)': 1 })],
      ['no column', () => insertInto('t', {})],
      ['no row', () => insertInto('t', [])],
      ['rows with different columns', () => insertInto('t', [{ a: 1 }, { b: 1 }])],
      [
        'rows with the same columns in another order',
        () =>
          insertInto('t', [
            { a: 1, b: 2 },
            { b: 2, a: 1 },
          ]),
      ],
      ['a first parameter of 0', () => insertInto('t', { a: 1 }, 0)],
    ];
    for (const [what, call] of misuse) it(`refuses ${what} as misuse (TypeError)`, () => expect(call).to.throw(TypeError));
  });

  it('recognises a unique violation by its SQLSTATE (23505)', () => {
    expect([isUniqueViolation({ code: '23505' }), isUniqueViolation({ code: '23503' }), isUniqueViolation(undefined)]).to.deep.equal([
      true,
      false,
      false,
    ]);
  });
});
