/**
 * A JSON value reader that keeps every number as its source text, for the records whose
 * numbers become keys or values (`JSON.parse` turns `12345678901234567891` into
 * `12345678901234567000` and `1e400` into `Infinity`, and loses `1.0`).
 *
 * It runs only on text `JSON.parse` has already accepted (the parsers try `JSON.parse` first,
 * the fast path, and come here when a number is needed), so it does no validation of its
 * own. It is iterative (an explicit stack), so nesting depth costs memory, never the call stack.
 */

/** A JSON number, as written in the input. */
export class JsonNumber {
  constructor(readonly text: string) {}
}

type Container = Record<string, unknown> | unknown[];

const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** Reads one JSON value from `text` (valid JSON), numbers as {@link JsonNumber}s. */
export function parseJsonKeepingNumbers(text: string): unknown {
  let i = 0;
  const ws = (): void => {
    for (let c = text.charCodeAt(i); c === 32 || c === 10 || c === 13 || c === 9; c = text.charCodeAt(++i));
  };
  const readString = (): string => {
    // at the opening quote
    const start = i + 1;
    const close = text.indexOf('"', start);
    const backslash = text.indexOf('\\', start);
    if (backslash < 0 || backslash > close) {
      i = close + 1;
      return text.slice(start, close);
    }
    let out = '';
    let from = start;
    let j = backslash;
    for (;;) {
      const c = text.charCodeAt(j);
      if (c === 34) break; // closing quote
      if (c !== 92) {
        j++;
        continue;
      }
      out += text.slice(from, j);
      const e = text[j + 1] as string;
      if (e === 'u') {
        out += String.fromCharCode(parseInt(text.slice(j + 2, j + 6), 16));
        j += 6;
      } else {
        out += ESCAPES[e] ?? e;
        j += 2;
      }
      from = j;
    }
    i = j + 1;
    return out + text.slice(from, j);
  };
  const isNumberChar = (c: number): boolean => (c >= 48 && c <= 57) || c === 45 || c === 43 || c === 46 || c === 101 || c === 69;

  const stack: Array<{ c: Container; key: string }> = [];
  for (;;) {
    // A value starts here.
    ws();
    let value: unknown;
    const c = text.charCodeAt(i);
    if (c === 123 /* { */ || c === 91 /* [ */) {
      i++;
      ws();
      const empty = text.charCodeAt(i) === (c === 123 ? 125 : 93);
      if (empty) {
        i++;
        value = c === 123 ? Object.create(null) : [];
      } else if (c === 91) {
        stack.push({ c: [], key: '' });
        continue;
      } else {
        const key = readString();
        ws();
        i++; // ':'
        stack.push({ c: Object.create(null) as Record<string, unknown>, key });
        continue;
      }
    } else if (c === 34) {
      value = readString();
    } else if (c === 116) {
      value = true;
      i += 4;
    } else if (c === 102) {
      value = false;
      i += 5;
    } else if (c === 110) {
      value = null;
      i += 4;
    } else {
      const start = i;
      while (isNumberChar(text.charCodeAt(i))) i++;
      value = new JsonNumber(text.slice(start, i));
    }
    // Attach the finished value to its parents, closing every container that ends here.
    for (;;) {
      const top = stack[stack.length - 1];
      if (top === undefined) return value;
      if (Array.isArray(top.c)) top.c.push(value);
      else top.c[top.key] = value;
      ws();
      if (text.charCodeAt(i) === 44 /* , */) {
        i++;
        if (!Array.isArray(top.c)) {
          ws();
          top.key = readString();
          ws();
          i++; // ':'
        }
        break;
      }
      i++; // '}' or ']'
      stack.pop();
      value = top.c;
    }
  }
}

/** A short description of a JSON value for an error message (never recursive, never long). */
export function describeJson(x: unknown): string {
  if (x === null) return 'null';
  if (x instanceof JsonNumber) return `the number ${x.text.slice(0, 40)}`;
  if (Array.isArray(x)) return 'an array';
  switch (typeof x) {
    case 'string':
      return `the string ${JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}…` : x)}`;
    case 'number':
      return `the number ${String(x)}`;
    case 'boolean':
      return String(x);
    case 'object':
      return 'an object';
    default:
      return typeof x;
  }
}
