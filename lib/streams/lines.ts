/**
 * A line-framed parsing stage on stream-chain: bytes in, one callback per physical line
 * (with its 1-based number), records out. JSON Lines and plain tab lines are built on it.
 *
 * stream-chain's own `jsonl/parserStream` counts only non-empty lines and hides the line of a
 * failure; discodb must name the line, so the framing is done here, in one synchronous stage
 * (no per-line promise), and wrapped by stream-chain's `asStream` for backpressure.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Duplex } from 'node:stream';
import { asStream } from 'stream-chain';
import { flushable, many, none } from 'stream-chain/defs.js';
import type { DiscoDBRecord } from './fields.js';

/** Parses one line (without its line break); returns `undefined` to skip it. May throw. */
export type LineParser = (line: string, lineNumber: number) => DiscoDBRecord | undefined;

/** Makes a Duplex that frames its bytes into lines and maps each through `parseLine`. */
export function lineRecordStream(parseLine: LineParser, highWaterMark?: number): Duplex {
  let rest = '';
  let lineNumber = 0;
  let atStart = true;

  const run = (input: string, final: boolean): DiscoDBRecord[] => {
    let text = rest === '' ? input : rest + input;
    if (atStart && text.length > 0) {
      atStart = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a byte-order mark is no data
    }
    const out: DiscoDBRecord[] = [];
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      const record = parseLine(text.slice(start, end), ++lineNumber);
      if (record !== undefined) out.push(record);
      start = nl + 1;
    }
    rest = start === 0 ? text : text.slice(start);
    if (final && rest !== '') {
      const end = rest.charCodeAt(rest.length - 1) === 13 ? rest.length - 1 : rest.length;
      const record = parseLine(rest.slice(0, end), ++lineNumber);
      if (record !== undefined) out.push(record);
      rest = '';
    }
    return out;
  };

  return textRecordStream(run, highWaterMark);
}

/**
 * A Duplex from bytes to records around `run(text, final)`, which turns each piece of
 * decoded text (UTF-8, split characters joined) into records; `final` marks the end.
 */
export function textRecordStream(run: (text: string, final: boolean) => DiscoDBRecord[], highWaterMark?: number): Duplex {
  const decoder = new StringDecoder('utf8');
  const stage = flushable((chunk: Uint8Array | string | typeof none) => {
    const out =
      chunk === none ? run(decoder.end(), true) : run(typeof chunk === 'string' ? chunk : decoder.write(chunk as Buffer), false);
    return out.length === 0 ? none : out.length === 1 ? out[0] : many(out);
  });
  return asStream(stage, {
    writableObjectMode: false,
    readableObjectMode: true,
    ...(highWaterMark === undefined ? {} : { readableHighWaterMark: highWaterMark }),
  });
}
