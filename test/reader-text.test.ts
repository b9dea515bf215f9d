/**
 * Value strings (issue 8): short ASCII values are made in JavaScript, the
 * rest by Node's UTF-8 decoder; both must give what `Buffer#toString('utf8')`
 * gives, for every length around the boundary, non-ASCII at every position,
 * control bytes and invalid UTF-8, on every route. (Decoded Huffman output
 * goes through the same function: the compressed corpus case in
 * reader-api.test.ts compares its strings the same way.)
 */
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DiscoDB } from '../lib/index.js';

function values(): Buffer[] {
  const out: Buffer[] = [];
  for (let n = 0; n <= 20; n++) {
    out.push(Buffer.from('abcdefghijklmnopqrstuvwxyz'.slice(0, n)));
    out.push(Buffer.from(Array.from({ length: n }, (_, i) => (i * 37) % 128))); // NUL, controls, 0x7f
    for (let at = 0; at < n; at++) {
      const b = Buffer.from('x'.repeat(n));
      b[at] = 0xe9; // invalid UTF-8 alone
      out.push(b);
      out.push(Buffer.concat([Buffer.from('y'.repeat(at)), Buffer.from('é'), Buffer.from('z'.repeat(Math.max(0, n - at - 2)))]));
    }
  }
  return out;
}

t.test('value strings equal Buffer#toString for short, long, ASCII and not', async (t) => {
  const vs = values();
  const pairs = vs.map((v, i) => ({ key: `k${i}`, values: [v] }));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'discodb-text-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const disableCompression of [true]) {
    const file = path.join(dir, `v-${disableCompression}.ddb`);
    fs.writeFileSync(file, DiscoDB.from(pairs, { disableCompression }).toBuffer());
    for (const db of [DiscoDB.open(file), DiscoDB.open(file, { mmap: false }), DiscoDB.fromBuffer(fs.readFileSync(file))]) {
      let bad = 0;
      for (let pass = 0; pass < 2; pass++) {
        vs.forEach((v, i) => {
          if (db.get(`k${i}`).first() !== v.toString('utf8')) bad++;
          if (db.peek(`k${i}`) !== v.toString('utf8')) bad++;
        });
      }
      t.equal(bad, 0, `${db.route}: ${vs.length} values`);
      db.close();
    }
  }
});
