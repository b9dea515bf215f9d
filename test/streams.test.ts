/**
 * lib/streams: the Readable factory (backpressure, destroy releases the iterator, line mode)
 * and the record parsers (CSV, TSV, JSON, JSON Lines, tab lines), including the line numbers
 * of their errors and independence from chunk boundaries.
 */
import * as fs from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import t from 'tap';
import type { TapTest } from './helpers/tap.js';
import { parse } from './helpers/parse.js';
import through2 from 'through2';
import { DiscoDBError } from '../lib/errors.js';
import { DiscoDB } from '../lib/discodb.js';
import '../lib/query/index.js';
import {
  csvRecords,
  defaultLineFormat,
  iterableStream,
  jsonlRecords,
  jsonRecords,
  recordParser,
  formatFromPath,
  tabRecords,
  tsvRecords,
  type DiscoDBRecord,
} from '../lib/streams/index.js';

const CORPUS = new URL('./fixtures/corpus/', import.meta.url);

/** A generator that records how far it was pulled and whether it was released. */
function probe(n: number, onPull?: (i: number) => void) {
  const state = { pulled: 0, released: false, finished: false };
  const iterable = {
    *[Symbol.iterator]() {
      try {
        for (let i = 0; i < n; i++) {
          onPull?.(i);
          state.pulled++;
          yield `item-${String(i).padStart(6, '0')}`;
        }
        state.finished = true;
      } finally {
        if (!state.finished) state.released = true;
      }
    },
  };
  return { iterable, state };
}

/** A Writable that takes `delayMs` per item and reports the stream's buffer at each write. */
function slowSink(objectMode: boolean, delayMs: number, onWrite: (chunk: unknown) => void): Writable {
  return new Writable({
    objectMode,
    highWaterMark: 1,
    write(chunk, _enc, cb) {
      onWrite(chunk);
      if (delayMs > 0) setTimeout(cb, delayMs);
      else setImmediate(cb);
    },
  });
}

t.test('iterableStream: object mode', async (t) => {
  t.test('delivers every item in order and ends', async (t) => {
    const { iterable } = probe(100);
    const out: unknown[] = [];
    for await (const x of iterableStream(iterable)) out.push(x);
    t.equal(out.length, 100);
    t.equal(out[0], 'item-000000');
    t.equal(out[99], 'item-000099');
  });

  t.test('a slow consumer holds the producer at the high-water mark', async (t) => {
    const hwm = 8;
    let stream!: Readable;
    let maxBuffered = 0;
    let consumed = 0;
    let maxAhead = 0;
    const { iterable, state } = probe(200, () => {
      // _read (and so a pull) happens only while the buffer is below the mark.
      maxBuffered = Math.max(maxBuffered, stream.readableLength);
    });
    stream = iterableStream(iterable, { highWaterMark: hwm });
    t.equal(state.pulled, 0, 'nothing is pulled before the first read');
    await pipeline(
      stream,
      slowSink(true, 1, () => {
        consumed++;
        maxAhead = Math.max(maxAhead, state.pulled - consumed);
      }),
    );
    t.equal(consumed, 200);
    // Node asks for more when the buffer minus the item being taken is under the mark.
    t.ok(maxBuffered <= hwm, `buffer at a pull was at most ${hwm} (max ${maxBuffered})`);
    t.ok(maxBuffered >= hwm - 1, 'and the producer did fill it');
    // Pulled but not yet consumed: the readable buffer plus the sink's one in-flight item
    // and its one-item buffer.
    t.ok(maxAhead <= hwm + 2, `producer ran at most ${hwm} + 2 items ahead (max ${maxAhead})`);
  });

  t.test('destroy() mid-stream returns the iterator and stops pulling', async (t) => {
    const { iterable, state } = probe(1_000_000);
    const stream = iterableStream(iterable, { highWaterMark: 4 });
    let seen = 0;
    for await (const _ of stream) {
      if (++seen === 10) break; // for-await's break destroys the stream
    }
    t.ok(state.released, 'the generator ran its finally');
    const pulled = state.pulled;
    t.ok(pulled < 20, `only ${pulled} pulled`);
    await new Promise((r) => setTimeout(r, 20));
    t.equal(state.pulled, pulled, 'no pull after destroy');
    t.ok(stream.destroyed);
  });

  t.test('explicit destroy(err) releases and reports the error', async (t) => {
    const { iterable, state } = probe(1000);
    const stream = iterableStream(iterable);
    stream.once('data', () => stream.destroy(new Error('stop here')));
    await t.rejects(pipeline(stream, new Writable({ objectMode: true, write: (_c, _e, cb) => cb() })), /stop here/);
    t.ok(state.released);
  });

  t.test('a failing destination tears the source down (pipeline)', async (t) => {
    const { iterable, state } = probe(1000);
    let n = 0;
    const sink = new Writable({
      objectMode: true,
      write(_c, _e, cb) {
        cb(++n === 5 ? new Error('disk full') : null);
      },
    });
    await t.rejects(pipeline(iterableStream(iterable), sink), /disk full/);
    t.ok(state.released);
  });

  t.test('an AbortSignal destroys the stream', async (t) => {
    const { iterable, state } = probe(1000);
    const ac = new AbortController();
    const stream = iterableStream(iterable, { signal: ac.signal, highWaterMark: 2 });
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    ac.abort();
    await t.rejects(it.next(), { name: 'AbortError' });
    t.ok(state.released);
  });

  t.test('iterator errors become stream errors', async (t) => {
    const bad = {
      *[Symbol.iterator]() {
        yield 'a';
        throw new DiscoDBError('ERR_DISCODB_CORRUPT', 'broken list');
      },
    };
    await t.rejects(pipeline(iterableStream(bad), new Writable({ objectMode: true, write: (_c, _e, cb) => cb() })), {
      code: 'ERR_DISCODB_CORRUPT',
    });
  });

  t.test('null items and bad modes are refused', async (t) => {
    const s = iterableStream([null]);
    await t.rejects(s.toArray(), { code: 'ERR_DISCODB_ARGUMENT' });
    t.throws(() => iterableStream([], { mode: 'bytes' as 'lines' }), { code: 'ERR_DISCODB_ARGUMENT' });
  });
});

t.test('iterableStream: lines mode', async (t) => {
  t.test('frames items as lines in few chunks', async (t) => {
    const { iterable } = probe(10_000);
    const chunks: Buffer[] = [];
    for await (const c of iterableStream(iterable, { mode: 'lines' })) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString();
    const lines = text.split('\n');
    t.equal(lines.length, 10_001);
    t.equal(lines[10_000], '');
    t.equal(lines[1234], 'item-001234');
    t.ok(chunks.length < 10, `${chunks.length} chunks for 10000 lines`);
  });

  t.test('byte backpressure: the buffer stays within 1.5 x the mark plus one line', async (t) => {
    const hwm = 256;
    const lineBytes = 'item-000000\n'.length;
    let stream!: Readable;
    let max = 0;
    const { iterable } = probe(5000, () => {
      max = Math.max(max, stream.readableLength);
    });
    stream = iterableStream(iterable, { mode: 'lines', highWaterMark: hwm });
    let maxAfter = 0;
    await pipeline(
      stream,
      slowSink(false, 0, () => {
        maxAfter = Math.max(maxAfter, stream.readableLength);
      }),
    );
    t.ok(max <= hwm * 1.5 + lineBytes, `buffer at a pull within 1.5 x ${hwm} + one line (max ${max})`);
    t.ok(maxAfter <= hwm * 1.5 + lineBytes, `buffered at most 1.5 x ${hwm} + one line (max ${maxAfter})`);
  });

  t.test('format, bytes and the default JSON format', async (t) => {
    const items: unknown[] = [Buffer.from([0xff, 0x00]), 'text', { a: 1 }, ['k', new Set(['v'])]];
    const out = Buffer.concat(await iterableStream(items, { mode: 'lines' }).toArray());
    t.same(out, Buffer.concat([Buffer.from([0xff, 0x00, 0x0a]), Buffer.from('text\n{"a":1}\n["k",["v"]]\n')]));
    const hex = Buffer.concat(
      await iterableStream([Buffer.from('ab'), Buffer.from('c')], { mode: 'lines', format: (b) => b.toString('hex') }).toArray(),
    );
    t.equal(hex.toString(), '6162\n63\n');
    t.equal(defaultLineFormat(Buffer.from('x')).toString(), 'x');
  });

  t.test('destroy() in lines mode releases too', async (t) => {
    const { iterable, state } = probe(1_000_000);
    const stream = iterableStream(iterable, { mode: 'lines', highWaterMark: 1024 });
    for await (const _ of stream) break;
    t.ok(state.released);
    t.ok(state.pulled < 300, `pulled ${state.pulled}`);
  });
});

t.test('Inquiry.stream() over a real db', async (t) => {
  const db = DiscoDB.open(new URL('05d_duplicates_unique_items_hashed/db.ddb', CORPUS).pathname);
  t.teardown(() => db.close());
  const keys = await db.keys().stream().toArray();
  t.same(keys, db.keys().toArray());
  const lines = Buffer.concat(await db.uniqueValues().stream({ mode: 'lines' }).toArray()).toString();
  t.equal(lines, db.uniqueValues().toArray().map((v) => `${v}\n`).join(''));
  const items = Buffer.concat(await db.items().stream({ mode: 'lines' }).toArray()).toString().trim().split('\n');
  t.equal(items.length, db.size);
  // A query result through a transform into a file.
  const out = t.testdir({});
  const file = `${out}/result.txt`;
  const first = db.keys().first() as string;
  await pipeline(
    db.query(first).stream(),
    through2.obj((v: string, _e, cb) => cb(null, `${v.toUpperCase()}\n`)),
    fs.createWriteStream(file),
  );
  t.equal(fs.readFileSync(file, 'utf8'), db.get(first).toArray().map((v) => `${v.toUpperCase()}\n`).join(''));
});


/** Same records for whole input, byte-by-byte and 7-byte chunks. */
async function parseAllWays(t: TapTest, make: () => NodeJS.ReadWriteStream, input: string): Promise<DiscoDBRecord[]> {
  const whole = await parse(make, input);
  t.same(await parse(make, input, 1), whole, 'byte-by-byte gives the same records');
  t.same(await parse(make, input, 7), whole, '7-byte chunks give the same records');
  return whole;
}

/** Expects an input error on `line`. */
async function failsAt(t: TapTest, make: () => NodeJS.ReadWriteStream, input: string, line: number, message?: RegExp) {
  for (const step of [0, 1, 5]) {
    await t.rejects(parse(make, input, step), { code: 'ERR_DISCODB_INPUT', line, ...(message ? { message } : {}) }, `line ${line} (step ${step})`);
  }
}

t.test('csvRecords', async (t) => {
  t.test('default columns: key = column 0, values = the others', async (t) => {
    const recs = await parseAllWays(t, () => csvRecords(), 'a,b,c\nd\n\ne,"f\r\ng",h\r\ni,\nj,k');
    t.same(recs, [
      { key: 'a', values: ['b', 'c'] },
      { key: 'd' },
      { key: 'e', values: ['f\r\ng', 'h'] },
      { key: 'i', value: '' },
      { key: 'j', value: 'k' },
    ]);
  });

  t.test('columns by name (header) and several value columns', async (t) => {
    const input = 'user,item,other\nu1,i1,o1\nu2,"i,2",o2\n';
    t.same(await parseAllWays(t, () => csvRecords({ key: 'user', value: 'item' }), input), [
      { key: 'u1', value: 'i1' },
      { key: 'u2', value: 'i,2' },
    ]);
    t.same(await parse(() => csvRecords({ key: 'user', value: ['other', 'item'] }), input), [
      { key: 'u1', values: ['o1', 'i1'] },
      { key: 'u2', values: ['o2', 'i,2'] },
    ]);
    t.same(await parse(() => csvRecords({ key: 2, value: 0, headers: true }), input), [
      { key: 'o1', value: 'u1' },
      { key: 'o2', value: 'u2' },
    ]);
    t.same(await parse(() => csvRecords({ key: 'user', value: null }), input), [{ key: 'u1' }, { key: 'u2' }]);
  });

  t.test('hex and base64 fields become bytes', async (t) => {
    const recs = await parse(() => csvRecords({ encoding: 'hex' }), '00ff,0a0b\n,\n');
    t.same(recs, [
      { key: Buffer.from([0, 255]), value: Buffer.from([10, 11]) },
      { key: Buffer.alloc(0), value: Buffer.alloc(0) },
    ]);
    const b64 = await parse(() => csvRecords({ encoding: 'base64' }), 'AP8=,CgsM\n');
    t.same(b64, [{ key: Buffer.from([0, 255]), value: Buffer.from([10, 11, 12]) }]);
  });

  t.test('malformed lines fail with their line number', async (t) => {
    await failsAt(t, () => csvRecords(), 'a,b\nc,d\ne,"f"x\ng,h\n', 3, /input:3: malformed CSV/);
    await failsAt(t, () => csvRecords(), 'a,b\nc,"multi\nline"\ne,"never closed\ng,h\n', 4, /missing closing/);
    await failsAt(t, () => csvRecords(), 'a,"\n"\nb,"\r\n",""\nd,"x"y\n', 5, /malformed CSV/);
    await failsAt(t, () => csvRecords({ path: 'users.csv', headers: true }), 'user,item\nu1,i1\nu2\n', 3, /^users\.csv:3: expected 2 columns/);
    await failsAt(t, () => csvRecords({ key: 'user', value: 'nope' }), 'user,item\nu1,i1\n', 1, /no value column named 'nope'/);
    await failsAt(t, () => csvRecords({ value: 3 }), 'a,b,c,d\ne,f\n', 2, /no value column 3/);
    await failsAt(t, () => csvRecords({ encoding: 'hex' }), '00,01\n0g,02\n', 2, /key '0g' is not valid hex/);
  });

  t.test('option errors', async (t) => {
    t.throws(() => csvRecords({ key: 'user', headers: false }), { code: 'ERR_DISCODB_ARGUMENT' });
    t.throws(() => csvRecords({ key: -1 }), { code: 'ERR_DISCODB_ARGUMENT' });
    t.throws(() => csvRecords({ encoding: 'latin1' as 'hex' }), { code: 'ERR_DISCODB_ARGUMENT' });
  });
});

t.test('tsvRecords', async (t) => {
  const recs = await parseAllWays(t, () => tsvRecords(), 'k1\t"quoted\tv2\nk2\tv,3\n');
  t.same(recs, [
    { key: 'k1', values: ['"quoted', 'v2'] },
    { key: 'k2', value: 'v,3' },
  ]);
  t.same(await parse(() => tsvRecords({ key: 'b', value: 'a' }), 'a\tb\n1\t2\n'), [{ key: '2', value: '1' }]);
  await failsAt(t, () => tsvRecords({ key: 'b', value: 'a' }), 'a\tb\n1\t2\n3\n', 3);
});

t.test('jsonlRecords', async (t) => {
  const input = '{"key":"a","value":"b"}\n\n  \n{"key":"c","values":["d",1,true]}\r\n["x","y","z"]\n{"key":"k"}\n{"key":"n","value":null}';
  t.same(await parseAllWays(t, () => jsonlRecords(), input), [
    { key: 'a', value: 'b' },
    { key: 'c', values: ['d', '1', 'true'] },
    { key: 'x', values: ['y', 'z'] },
    { key: 'k' },
    { key: 'n' },
  ]);
  t.same(await parse(() => jsonlRecords({ key: 'user', value: ['item', 'tags'] }), '{"user":"u","item":"i","tags":["t1","t2"]}\n'), [
    { key: 'u', values: ['i', 't1', 't2'] },
  ]);
  t.same(await parse(() => jsonlRecords({ key: 'u', values: 'vs' }), '{"u":"a","vs":["1","2"]}\n'), [{ key: 'a', values: ['1', '2'] }]);
  t.same(await parse(() => jsonlRecords({ encoding: 'hex' }), '{"key":"ff","value":"00"}\n'), [
    { key: Buffer.from([255]), value: Buffer.from([0]) },
  ]);
  // A byte-order mark is not data.
  t.same(await parse(() => jsonlRecords(), '\ufeff{"key":"a"}\n'), [{ key: 'a' }]);
  await failsAt(t, () => jsonlRecords(), '{"key":"a"}\n\n{"key":"b",\n{"key":"c"}\n', 3, /invalid JSON/);
  await failsAt(t, () => jsonlRecords(), '{"key":"a"}\n{"value":"b"}\n', 2, /no key "key"/);
  await failsAt(t, () => jsonlRecords(), '{"key":"a"}\n"just a string"\n', 2, /expected an object or array/);
  await failsAt(t, () => jsonlRecords(), '{"key":{"nested":1}}\n', 1, /key must be a string/);
  await failsAt(t, () => jsonlRecords({ key: 0 }), '{"key":"a"}\n', 1, /cannot select key 0/);
  await failsAt(t, () => jsonlRecords({ encoding: 'hex' }), '{"key":"ff"}\n{"key":1}\n', 2, /must be a hex string/);
});

t.test('jsonRecords', async (t) => {
  const input = '[\n  {"key": "a", "value": "b"},\n  {"key": "c", "values": ["d", "e"]},\n  ["x", "y"],\n  {"key": "k"}\n]\n';
  t.same(await parseAllWays(t, () => jsonRecords(), input), [
    { key: 'a', value: 'b' },
    { key: 'c', values: ['d', 'e'] },
    { key: 'x', value: 'y' },
    { key: 'k' },
  ]);
  t.same(await parse(() => jsonRecords(), '[]'), []);
  t.same(await parse(() => jsonRecords({ key: 'id', value: 'tags' }), '[{"id":1,"tags":["a","b"]}]'), [{ key: '1', values: ['a', 'b'] }]);
  await failsAt(t, () => jsonRecords(), '[\n{"key":"a"},\n{"key":"b" "value":"c"},\n{"key":"d"}\n]', 3, /invalid JSON/);
  await failsAt(t, () => jsonRecords(), '{"key":"a"}', 1, /expected a JSON array/);
  await failsAt(t, () => jsonRecords(), '[\n{"key":"a"},\n{"nokey":"b"}\n]', 3, /no key "key"/);
  await failsAt(t, () => jsonRecords(), '[\n{"key":"a"}\n]\n\ngarbage', 5, /invalid JSON/);
});

t.test('tabRecords', async (t) => {
  t.same(await parseAllWays(t, () => tabRecords(), 'a\tb\tc\nkeyonly\n\n\tv\r\nlast\tx'), [
    { key: 'a', value: 'b\tc' },
    { key: 'keyonly' },
    { key: '', value: 'v' },
    { key: 'last', value: 'x' },
  ]);
  t.same(await parse(() => tabRecords({ value: null }), 'a\tb\n'), [{ key: 'a\tb' }]);
  t.same(await parse(() => tabRecords({ separator: ' ' }), 'a b c\n'), [{ key: 'a', value: 'b c' }]);
  await failsAt(t, () => tabRecords({ encoding: 'base64' }), 'AA==\tAQ==\n!!\tAA==\n', 2, /not valid base64/);
});

t.test('recordParser and formatFromPath', async (t) => {
  t.equal(formatFromPath('x/data.CSV'), 'csv');
  t.equal(formatFromPath('a.tsv'), 'tsv');
  t.equal(formatFromPath('a.ndjson'), 'jsonl');
  t.equal(formatFromPath('a.jsonl'), 'jsonl');
  t.equal(formatFromPath('a.json'), 'json');
  t.equal(formatFromPath('a.txt'), 'tab');
  t.equal(formatFromPath('noext'), 'tab');
  t.same(await parse(() => recordParser('csv', { key: 1, value: 0 }), 'a,b\n'), [{ key: 'b', value: 'a' }]);
  t.same(await parse(() => recordParser('tab', { value: null }), 'a\tb\n'), [{ key: 'a\tb' }]);
  t.throws(() => recordParser('tab', { key: 'x' }), { code: 'ERR_DISCODB_ARGUMENT' });
  t.throws(() => recordParser('xml' as 'csv'), { code: 'ERR_DISCODB_ARGUMENT' });
});

t.test('parsers hold back under a slow consumer', async (t) => {
  // 20k records written in one chunk: the parser's readable side stays bounded.
  const pairs = Array.from({ length: 20_000 }, (_, i) => [`k${i}`, `v${i}`] as const);
  const cases: Array<[string, () => NodeJS.ReadWriteStream, string]> = [
    ['csv', () => csvRecords(), pairs.map(([k, v]) => `${k},${v}`).join('\n')],
    ['jsonl', () => jsonlRecords(), pairs.map((p) => JSON.stringify(p)).join('\n')],
    ['json', () => jsonRecords(), JSON.stringify(pairs)],
    ['tab', () => tabRecords(), pairs.map(([k, v]) => `${k}\t${v}`).join('\n')],
    ['tsv', () => tsvRecords(), pairs.map(([k, v]) => `${k}\t${v}`).join('\n')],
    ['csv, highWaterMark 4', () => csvRecords({ highWaterMark: 4 }), pairs.map(([k, v]) => `${k},"${v}"`).join('\r\n')],
  ];
  for (const [name, make, input] of cases) {
    const parser = make();
    let maxBuffered = 0;
    let n = 0;
    await pipeline(
      Readable.from([Buffer.from(input)]),
      parser,
      slowSink(true, 0, () => {
        n++;
        maxBuffered = Math.max(maxBuffered, (parser as unknown as Readable).readableLength);
      }),
    );
    t.equal(n, 20_000, `${name}: every record`);
    // Records are pushed one at a time: the buffer stays at the high-water mark (16, or 4).
    t.ok(maxBuffered <= (name.endsWith('4') ? 5 : 17), `${name}: readable side stayed small (max ${maxBuffered})`);
  }
});
