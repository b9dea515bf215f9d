/** Running bytes through a record parser in tests, as one chunk or split at every `step` bytes. */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DiscoDBRecord } from '../../lib/streams/index.js';

/** Runs bytes through a parser, as one chunk or split at every `step` bytes (0: one chunk). */
export async function parse(make: () => NodeJS.ReadWriteStream, input: string | Buffer, step = 0): Promise<DiscoDBRecord[]> {
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input);
  const chunks: Buffer[] = [];
  if (step > 0) for (let i = 0; i < bytes.length; i += step) chunks.push(bytes.subarray(i, i + step));
  else chunks.push(bytes);
  const out: DiscoDBRecord[] = [];
  await pipeline(
    Readable.from(chunks),
    make(),
    new Writable({
      objectMode: true,
      write(r, _e, cb) {
        out.push(r as DiscoDBRecord);
        cb();
      },
    }),
  );
  return out;
}
