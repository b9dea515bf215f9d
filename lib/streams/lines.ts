/**
 * A line-framed parsing stage: bytes in, one callback per physical line (with its 1-based
 * number), records out. JSON Lines and plain tab lines are built on it.
 *
 * Each chunk is searched for `\n` from where the last search stopped; the bytes of a line that
 * spans chunks are kept as pieces and joined once when its `\n` arrives (never re-joined or
 * re-scanned per chunk), so a 100 MiB line costs the same per byte as short ones. Every line
 * must be well-formed UTF-8: a bad byte is an input error naming the line, never a silent
 * U+FFFD (which would merge different keys).
 */
import type { Duplex } from 'node:stream';
import { byteRecordStream, invalidUtf8Message, isValidUtf8, Pieces } from './bytes.js';
import { inputError, type DiscoDBRecord } from './fields.js';

/** Parses one line (without its line break); returns `undefined` to skip it. May throw. */
export type LineParser = (line: string, lineNumber: number) => DiscoDBRecord | undefined;

/** Makes a Duplex that frames its bytes into lines and maps each through `parseLine`. */
export function lineRecordStream(parseLine: LineParser, options: { path?: string | undefined; highWaterMark?: number | undefined } = {}): Duplex {
  const rest = new Pieces();
  let lineNumber = 0;

  const emit = (bytes: Buffer, out: DiscoDBRecord[]): void => {
    lineNumber++;
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 13 ? bytes.length - 1 : bytes.length;
    const line = end === bytes.length ? bytes : bytes.subarray(0, end);
    if (!isValidUtf8(line)) throw inputError(options.path, lineNumber, invalidUtf8Message(line, 'line'));
    const record = parseLine(line.toString('utf8'), lineNumber);
    if (record !== undefined) out.push(record);
  };

  return byteRecordStream((chunk) => {
    const out: DiscoDBRecord[] = [];
    if (chunk === null) {
      if (rest.length > 0) emit(rest.take(), out);
      return out;
    }
    let start = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
      emit(rest.length === 0 ? chunk.subarray(start, nl) : rest.take(chunk.subarray(start, nl)), out);
      start = nl + 1;
    }
    if (start < chunk.length) rest.push(start === 0 ? chunk : chunk.subarray(start));
    return out;
  }, options.highWaterMark);
}
