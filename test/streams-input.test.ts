/**
 * lib/streams, hostile input (issue 10 items 4, 6, 8; issue 11 items 1, 3, 12): invalid UTF-8
 * and lone surrogates are errors naming the line, JSON numbers keep their source text, deep
 * nesting is an input error (never a stack overflow), 16 MiB cells and lines parse in one
 * pass, and `.tsv` vs tab lines follow the one documented rule.
 */
import t from 'tap';
import type { TapTest } from './helpers/tap.js';
import { parse } from './helpers/parse.js';
import {
  csvRecords,
  formatFromPath,
  jsonlRecords,
  jsonRecords,
  recordParser,
  tabRecords,
  tsvRecords,
  type DiscoDBRecord,
} from '../lib/streams/index.js';

type Make = () => NodeJS.ReadWriteStream;


/** Expects an input error on `line` whatever the chunking. */
async function failsAt(t: TapTest, make: Make, input: string | Buffer, line: number, message: RegExp): Promise<void> {
  for (const step of [0, 1, 3]) {
    await t.rejects(parse(make, input, step), { code: 'ERR_DISCODB_INPUT', line, message }, `line ${line} (step ${step})`);
  }
}

const bytes = (...parts: Array<string | number[]>): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

t.test('invalid UTF-8 is an input error naming the line, in every format', async (t) => {
  // Two keys that differ only in an invalid byte would both become U+FFFD and merge.
  const bad = [0xff];
  await failsAt(t, () => csvRecords(), bytes('a,b\nc', bad, ',d\n'), 2, /input:2: invalid UTF-8 \(byte 0xff/);
  await failsAt(t, () => csvRecords(), bytes('a,b\n"multi\nline', bad, '",x\n'), 3, /invalid UTF-8/);
  await failsAt(t, () => tsvRecords({ path: 'x.tsv' }), bytes('a\tb\nc\t', [0xc3, 0x28], '\n'), 2, /^x\.tsv:2: invalid UTF-8/);
  await failsAt(t, () => tabRecords(), bytes('a\tb\n\nk\t', [0xe2, 0x82], '\n'), 3, /invalid UTF-8/);
  await failsAt(t, () => jsonlRecords(), bytes('{"key":"a"}\n{"key":"', [0xfe], '"}\n'), 2, /invalid UTF-8/);
  await failsAt(t, () => jsonRecords(), bytes('[\n{"key":"a"},\n{"key":\n"', [0xed, 0xa0, 0x80], '"}]'), 4, /invalid UTF-8/);
  // Overlong and truncated forms are ill-formed too; a character split across chunks is not.
  await failsAt(t, () => tabRecords(), bytes('k\t', [0xc0, 0xaf], '\n'), 1, /invalid UTF-8/);
  await failsAt(t, () => tabRecords(), bytes('k\tv\nk\t', [0xe2, 0x82]), 2, /invalid UTF-8/);
  const text = 'é€😀\t💡,ü\n';
  const cases: Array<[Make, string]> = [
    [() => csvRecords(), text],
    [() => tsvRecords(), text],
    [() => tabRecords(), text],
    [() => jsonlRecords(), '["é€😀","💡"]\n'],
  ];
  for (const [make, input] of cases) {
    const whole = await parse(make, input);
    t.equal(whole.length, 1);
    t.same(await parse(make, input, 1), whole, 'multi-byte characters split across chunks are fine');
  }
  t.same(await parse(() => jsonRecords(), '[["é€", "😀"]]', 1), [{ key: 'é€', value: '😀' }]);
});

t.test('JSON: lone surrogates are refused, pairs are fine', async (t) => {
  await failsAt(t, () => jsonlRecords(), '{"key":"a"}\n{"key":"\\ud800"}\n', 2, /lone surrogate/);
  await failsAt(t, () => jsonlRecords(), '{"key":"a","value":"x\\udc00y"}\n', 1, /value .* lone surrogate/);
  await failsAt(t, () => jsonRecords(), '[\n["k", "\\udbff"]\n]', 2, /lone surrogate/);
  t.same(await parse(() => jsonlRecords(), '{"key":"\\ud83d\\ude00","value":"\\u00e9"}\n'), [{ key: '😀', value: 'é' }]);
});

t.test('JSON numbers keep their source text; booleans are "true"/"false"', async (t) => {
  const input = '{"key":12345678901234567891,"values":[1e400,1.0,-0,0.1,5,true,false]}\n[1E2, 2.50]\n';
  const want = [
    { key: '12345678901234567891', values: ['1e400', '1.0', '-0', '0.1', '5', 'true', 'false'] },
    { key: '1E2', value: '2.50' },
  ];
  t.same(await parse(() => jsonlRecords(), input), want);
  t.same(await parse(() => jsonlRecords(), input, 1), want);
  const array = `[${input.trim().split('\n').join(',\n')}]`;
  t.same(await parse(() => jsonRecords(), array), want);
  t.same(await parse(() => jsonRecords(), array, 2), want);
  // Numbers in fields that are not read cost nothing and change nothing.
  t.same(await parse(() => jsonlRecords({ key: 'k', value: 'v' }), '{"k":"a","v":"b","n":1e999}\n'), [{ key: 'a', value: 'b' }]);
  // Escapes in a record read for its numbers are decoded the same way JSON.parse does.
  t.same(await parse(() => jsonlRecords(), '{"key":"a\\"b\\\\c\\n\\u0041\\/","value":7,"__proto__":1}\n'), [{ key: 'a"b\\c\nA/', value: '7' }]);
  await failsAt(t, () => jsonlRecords({ encoding: 'hex' }), '{"key":"ff","value":1.5}\n', 1, /must be a hex string, got the number 1\.5/);
});

t.test('deeply nested JSON is an input error with its line, never a stack overflow', async (t) => {
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  await failsAt(t, () => jsonlRecords(), `{"key":"a"}\n${deep}\n`, 2, /key must be a string, number or boolean, got an array/);
  await failsAt(t, () => jsonlRecords(), `{"key":"a"}\n{"key":${deep}}\n`, 2, /got an array/);
  await failsAt(t, () => jsonlRecords(), `{"key":"a"}\n{"key":"b","value":[${deep}]}\n`, 2, /value must be .* got an array/);
  await failsAt(t, () => jsonRecords(), `[\n{"key":"a"},\n${deep}\n]`, 3, /got an array/);
  await failsAt(t, () => jsonlRecords(), `{"key":1,"value":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}\n`, 1, /got an object/);
  // Deep nesting in a field that is not read is harmless data.
  t.same(await parse(() => jsonlRecords(), `{"key":2,"other":${deep}}\n`), [{ key: '2' }]);
  t.same(await parse(() => jsonRecords(), `[{"key":"x","other":${deep}}]`, 4096), [{ key: 'x' }]);
});

t.test('JSON arrays: framing errors name their line', async (t) => {
  await failsAt(t, () => jsonRecords(), '[\n{"key":"a"},\n{"key":"b"} {"key":"c"}\n]', 3, /invalid JSON: expected ',' or ']'/);
  await failsAt(t, () => jsonRecords(), '[\n{"key":"a"},\n]', 3, /invalid JSON: unexpected ']'/);
  await failsAt(t, () => jsonRecords(), '[\n{"key":"a"}\n\n', 3, /invalid JSON: unexpected end of input/);
  await failsAt(t, () => jsonRecords(), '[\n{"key":"a",\n"value":\n"b" "c"}\n]', 4, /invalid JSON/);
  await failsAt(t, () => jsonRecords(), '\n\n"str"', 3, /expected a JSON array of records/);
  await failsAt(t, () => jsonRecords(), '[\n"just a string"\n]', 2, /expected an object or array record, got the string "just a string"/);
  t.same(await parse(() => jsonRecords(), ' \n'), [], 'blank input: no records');
  t.same(await parse(() => jsonRecords(), '\ufeff[["a","b"]]\n', 1), [{ key: 'a', value: 'b' }], 'a BOM is no data');
});

t.test('16 MiB cells and lines parse in one pass (they took minutes when each chunk re-scanned the rest)', async (t) => {
  const big = 'x'.repeat(16 * 1024 * 1024);
  const step = 64 * 1024;
  const check = (recs: DiscoDBRecord[], key: string, value: string, what: string): void => {
    t.equal(recs.length, 2, `${what}: two records`);
    const r = recs[0] as { key: string; value: string };
    t.equal(r.key, key, `${what}: key`);
    t.equal(r.value.length, value.length, `${what}: value length`);
    t.ok(r.value === value, `${what}: value`);
  };
  check(await parse(() => csvRecords(), `k,${big}\na,b\n`, step), 'k', big, 'csv unquoted cell');
  check(await parse(() => csvRecords(), `k,"${big}"\r\na,b\n`, step), 'k', big, 'csv quoted cell');
  check(await parse(() => csvRecords(), `k,"a""${big}\n"\na,b\n`, step), 'k', `a"${big}\n`, 'csv quoted cell with a quote and a line break');
  check(await parse(() => tsvRecords(), `k\t${big}\na\tb\n`, step), 'k', big, 'tsv cell');
  check(await parse(() => tabRecords(), `k\t${big}\na\tb\n`, step), 'k', big, 'tab line');
  check(await parse(() => jsonlRecords(), `{"key":"k","value":"${big}"}\n{"key":"a","value":"b"}\n`, step), 'k', big, 'jsonl line');
  check(await parse(() => jsonRecords(), `[{"key":"k","value":"${big}"},\n{"key":"a","value":"b"}]`, step), 'k', big, 'json element');
  // An unclosed quote near the top is reported at the line where it opened.
  await t.rejects(parse(() => csvRecords(), `a,b\nc,"${big}\nd,e\n`, step), { code: 'ERR_DISCODB_INPUT', line: 2, message: /missing closing/ });
});

t.test('CSV syntax kept from the fast-csv days', async (t) => {
  // Blanks around quotes are dropped, a quote inside an unquoted cell is a character, a lone CR ends a row.
  t.same(await parse(() => csvRecords(), '  "x" ,y\nab"c,d\r\ne\rf,"g""h"\n \t \n""\n', 1), [
    { key: 'x', value: 'y' },
    { key: 'ab"c', value: 'd' },
    { key: 'e' },
    { key: 'f', value: 'g"h' },
    { key: '' },
  ]);
  await failsAt(t, () => csvRecords(), 'a,b\n "x"z,y\n', 2, /malformed CSV: expected ',' or a line break after a closing quote, got 'z'/);
  // Other delimiters and quotes; one ASCII character each.
  t.same(await parse(() => csvRecords({ delimiter: ';', quote: "'" }), "a;'b;c'\n"), [{ key: 'a', value: 'b;c' }]);
  t.same(await parse(() => csvRecords({ quote: null }), 'a,"b\n'), [{ key: 'a', value: '"b' }]);
  t.throws(() => csvRecords({ delimiter: '::' }), { code: 'ERR_DISCODB_ARGUMENT' });
  t.throws(() => csvRecords({ delimiter: '\n' }), { code: 'ERR_DISCODB_ARGUMENT' });
  t.throws(() => csvRecords({ delimiter: ',', quote: ',' }), { code: 'ERR_DISCODB_ARGUMENT' });
  // A header after blank lines, a BOM before it.
  t.same(await parse(() => csvRecords({ key: 'u', value: 'i' }), '\ufeffu,i\n\nann,pen\n', 1), [{ key: 'ann', value: 'pen' }]);
});

t.test('the tsv and tab rule: .tsv splits at every tab, tab lines at the first', async (t) => {
  const input = 'a\tb\tc\nk\n';
  t.same(await parse(() => recordParser(formatFromPath('x.tsv')), input), [{ key: 'a', values: ['b', 'c'] }, { key: 'k' }]);
  t.same(await parse(() => recordParser(formatFromPath('x.txt')), input), [{ key: 'a', value: 'b\tc' }, { key: 'k' }]);
  // Without quoting .tsv and tab lines agree on two-column input, CRLF included.
  const two = 'k1\tv1\r\nk2\tv"2\nk3\t\n';
  t.same(await parse(() => tsvRecords(), two, 5), await parse(() => tabRecords(), two, 5));
});

t.test('formatFromPath looks through compression suffixes', async (t) => {
  t.equal(formatFromPath('x.csv.gz'), 'csv');
  t.equal(formatFromPath('dir/x.TSV.GZ'), 'tsv');
  t.equal(formatFromPath('x.jsonl.zst'), 'jsonl');
  t.equal(formatFromPath('x.ndjson.zstd'), 'jsonl');
  t.equal(formatFromPath('x.json.bz2'), 'json');
  t.equal(formatFromPath('x.csv.xz'), 'csv');
  t.equal(formatFromPath('x.csv.gzip'), 'csv');
  t.equal(formatFromPath('x.gz'), 'tab');
  t.equal(formatFromPath('x.txt.gz'), 'tab');
  t.equal(formatFromPath('x.gz.csv'), 'csv');
});

t.test('JSON numbers survive any surrounding structure (random records)', async (t) => {
  let seed = 7;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const numbers = ['0', '-0', '1.0', '1e400', '-1E-7', '12345678901234567891', '0.1000', '3', '2.5e+3'];
  const strings = ['"a"', '"\\"q\\""', '"\\u00e9\\\\"', '"x y"', '""'];
  // Junk: nested objects and arrays of every JSON kind, never read.
  const junk = (depth: number): string => {
    const k = rand(depth > 3 ? 3 : 6);
    if (k === 0) return numbers[rand(numbers.length)] as string;
    if (k === 1) return strings[rand(strings.length)] as string;
    if (k === 2) return ['true', 'false', 'null'][rand(3)] as string;
    if (k === 3) return `[${Array.from({ length: rand(4) }, () => junk(depth + 1)).join(',')}]`;
    if (k === 4) return `{${Array.from({ length: rand(4) }, (_, i) => `"f${i}" : ${junk(depth + 1)}`).join(' , ')}}`;
    return ' [ ] ';
  };
  const lines: string[] = [];
  const want: DiscoDBRecord[] = [];
  for (let i = 0; i < 300; i++) {
    const key = numbers[rand(numbers.length)] as string;
    const values = Array.from({ length: 1 + rand(3) }, () => (rand(2) === 0 ? numbers[rand(numbers.length)] : strings[rand(strings.length)]) as string);
    lines.push(`{"a":${junk(0)},"key":${key},"b":${junk(0)},"values":[${values.join(', ')}],"c":${junk(0)}}`);
    const text = values.map((v) => (v.startsWith('"') ? (JSON.parse(v) as string) : v));
    want.push(text.length === 1 ? { key, value: text[0] as string } : { key, values: text });
  }
  t.same(await parse(() => jsonlRecords(), lines.join('\n')), want);
  t.same(await parse(() => jsonRecords(), `[${lines.join(',\n')}]`, 13), want);
});

t.test('CSV: many rows of mixed line ends and quoting, any chunking', async (t) => {
  const rows: string[] = [];
  const want: DiscoDBRecord[] = [];
  const ends = ['\n', '\r\n', '\r'];
  for (let i = 0; i < 30_000; i++) {
    const quoted = i % 7 === 0;
    const multi = i % 101 === 0;
    const v = multi ? `v${i}\r\nmore` : `v${i}`;
    rows.push(`k${i},${quoted || multi ? `"${v}"` : v}${ends[i % 3 === 0 ? 2 : i % 5 === 0 ? 1 : 0]}`);
    want.push({ key: `k${i}`, value: v });
  }
  const input = rows.join('');
  for (const step of [0, 65_536, 1000, 17]) t.same(await parse(() => csvRecords(), input, step), want, `chunks of ${step || 'all'}`);
  // Line numbers stay right past all of it: row 30 001 starts after 30 000 + 297 quoted line breaks.
  const breaks = want.filter((_, i) => i % 101 === 0).length;
  await t.rejects(parse(() => csvRecords(), `${input}x,"y"z\n`, 65_536), { code: 'ERR_DISCODB_INPUT', line: 30_001 + breaks });
});
