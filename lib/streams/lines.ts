/**
 * A line-framed parsing stage: bytes in, one callback per physical line (with its 1-based
 * number), records out. JSON Lines and plain tab lines are built on it.
 *
 * Each chunk's text is searched for `\n` from where the last search stopped; the text of a
 * line that spans chunks is kept as pieces and joined once when its `\n` arrives (never
 * re-joined or re-scanned per chunk), so a 100 MiB line costs the same per byte as short
 * ones. The bytes must be well-formed UTF-8: a bad byte is an input error naming its line,
 * never a silent U+FFFD (which would merge different keys).
 */
import type { Duplex } from 'node:stream';
import { invalidUtf8Text, textRecordStream, TextPieces } from './bytes.js';
import { inputError, type DiscoDBRecord } from './fields.js';

/** Parses one line (without its line break); returns `undefined` to skip it. May throw. */
export type LineParser = (line: string, lineNumber: number) => DiscoDBRecord | undefined;

/** Makes a Duplex that frames its bytes into lines and maps each through `parseLine`. */
export function lineRecordStream(parseLine: LineParser, options: { path?: string | undefined; highWaterMark?: number | undefined } = {}): Duplex {
  const rest = new TextPieces();
  let lineNumber = 0;

  const emit = (text: string, out: DiscoDBRecord[]): void => {
    const line = text.charCodeAt(text.length - 1) === 13 ? text.slice(0, -1) : text;
    const record = parseLine(line, ++lineNumber);
    if (record !== undefined) out.push(record);
  };

  return textRecordStream(
    {
      text(text, out) {
        let start = 0;
        for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
          emit(rest.length === 0 ? text.slice(start, nl) : rest.take(text.slice(start, nl)), out);
          start = nl + 1;
        }
        if (start < text.length) rest.push(start === 0 ? text : text.slice(start));
      },
      end(out) {
        if (rest.length > 0) emit(rest.take(), out);
      },
      invalidUtf8(byte) {
        return inputError(options.path, lineNumber + 1, invalidUtf8Text(byte));
      },
    },
    options.highWaterMark,
  );
}
