import { ValidationException } from './domain.exception';
import { QueryParam, parseQuery as checkQuery, querySchema, type ParsedQuery } from './query-params';

// The router's parse of a query string (Fastify's: a repeated key becomes the list of its values).
function routerParse(raw: string): ParsedQuery {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    const had = out[k];
    out[k] = had === undefined ? v : [...(typeof had === 'string' ? [had] : had), v];
  }
  return out;
}
const parseQuery = (s: Parameters<typeof checkQuery>[0], raw: string) => checkQuery(s, routerParse(raw));

const schema = querySchema({
  state: QueryParam.oneOf(['OPEN', 'CLOSED']).optional(),
  overdue: QueryParam.bool().optional(),
  code: QueryParam.text(/^[A-Z]{2,5}$/, 'two to five capitals').optional(),
  limit: QueryParam.int(1, 1000).optional(),
  offset: QueryParam.int(0, 1_000_000).optional(),
  status: QueryParam.list(QueryParam.oneOf(['A', 'B', 'C']), 3).optional(),
});

function refusal(raw: string, s: Parameters<typeof parseQuery>[0] = schema): { field: string; rule: string; message: string } {
  try {
    parseQuery(s, raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationException);
    const v = e as ValidationException;
    return { field: v.details.field!, rule: v.details.rule!, message: v.message };
  }
  throw new Error(`expected ${raw} to be refused`);
}

describe('parseQuery', () => {
  it('parses declared parameters into typed values', () => {
    expect(parseQuery(schema, 'state=OPEN&overdue=true&code=AB&limit=10&offset=0')).toEqual({ state: 'OPEN', overdue: true, code: 'AB', limit: 10, offset: 0 });
    expect(parseQuery(schema, '')).toEqual({});
    expect(parseQuery(schema, '%6cimit=7')).toEqual({ limit: 7 }); // keys are percent-decoded as the router does
  });

  it('takes a list parameter repeated or comma-separated', () => {
    expect(parseQuery(schema, 'status=A&status=B')).toEqual({ status: ['A', 'B'] });
    expect(parseQuery(schema, 'status=A,C')).toEqual({ status: ['A', 'C'] });
    expect(refusal('status=A&status=X')).toMatchObject({ field: 'status', rule: 'ONE_OF' });
    expect(refusal('status=A,B,C,A')).toMatchObject({ field: 'status', rule: 'TOO_MANY' });
  });

  it('refuses a repeated parameter that is not a list, naming it', () => {
    expect(refusal('code=AB&code=CD')).toEqual({ field: 'code', rule: 'REPEATED', message: 'query parameter code is given 2 times; give it once' });
    expect(refusal('limit=1&limit=1')).toMatchObject({ field: 'limit', rule: 'REPEATED' });
  });

  it('refuses undeclared parameters, and any parameter where no schema is declared', () => {
    expect(refusal('limit=5&debug=1')).toMatchObject({ field: 'debug', rule: 'UNKNOWN_FIELD' });
    expect(refusal('x=1', undefined)).toMatchObject({ field: 'x', rule: 'UNKNOWN_FIELD' });
    expect(parseQuery(undefined, '')).toEqual({});
  });

  it.each([['Infinity'], ['-1'], ['1e300'], ['1e3'], ['abc'], ['0x10'], ['1.5'], [' 1'], ['+1'], [''], ['01'], ['99999999999999999999']])('refuses limit=%s as not a decimal integer', (v) => {
    expect(refusal(`limit=${encodeURIComponent(v)}`)).toMatchObject({ field: 'limit', rule: 'INTEGER' });
  });

  it('refuses numbers out of bounds', () => {
    expect(refusal('limit=0')).toMatchObject({ field: 'limit', rule: 'RANGE', message: 'query parameter limit: must be between 1 and 1000' });
    expect(refusal('limit=1001')).toMatchObject({ field: 'limit', rule: 'RANGE' });
    expect(refusal('offset=1000001')).toMatchObject({ field: 'offset', rule: 'RANGE' });
    expect(parseQuery(schema, 'offset=1000000&limit=1000')).toEqual({ offset: 1_000_000, limit: 1000 });
  });

  it('refuses bad enumerations, booleans and text', () => {
    expect(refusal('state=open')).toMatchObject({ field: 'state', rule: 'ONE_OF' });
    expect(refusal('overdue=yes')).toMatchObject({ field: 'overdue', rule: 'ONE_OF' });
    expect(refusal('code=ab')).toMatchObject({ field: 'code', rule: 'FORMAT' });
    expect(refusal('code=%00')).toMatchObject({ field: 'code', rule: 'STORABLE_TEXT' });
  });
});
