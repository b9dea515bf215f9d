/**
 * The Q query language of the Python binding (spec §9.2): a data model kept in
 * conjunctive normal form with set semantics, a real parser (never `eval`),
 * the CNF operators, and the string/URL forms.
 *
 * A {@link Q} is a set of {@link Clause}s (AND); a clause is a set of
 * {@link Literal}s (OR); a literal is a key (bytes) or a dereference of a whole
 * query (`*A`), possibly negated. Sets are kept sorted in one canonical order,
 * so equality is structural and `toString()` is deterministic.
 */
import { DiscoDBError } from '../errors.js';

/** Above this many clauses a CNF operation refuses: distribution grows exponentially. */
export const MAX_CLAUSES = 100_000;

/**
 * Above this many literals in all clauses together, a distribution refuses
 * (each of its clauses gets a copy of the literals common to all of them).
 */
export const MAX_LITERALS = 1 << 22;

/** Nesting depth of parentheses/unary operators the parser accepts. */
export const MAX_DEPTH = 1000;

/**
 * How deep dereferences may nest (`**…*a`), in parsed and in built queries
 * alike: each level runs a query when evaluated, and comparing and printing
 * recurse through them.
 */
export const MAX_DEREF_DEPTH = 64;

/** One literal of a clause: a key (or a dereferenced query), possibly negated. */
export class Literal {
  /** The key bytes, or `null` for a dereference. */
  readonly key: Buffer | null;
  /** The dereferenced query (`*query`), or `null` for a plain key. */
  readonly query: Q | null;
  /** True for `~literal`. */
  readonly negated: boolean;

  /** Use {@link Literal.term} / {@link Literal.deref} to build one. */
  private constructor(key: Buffer | null, query: Q | null, negated: boolean) {
    this.key = key;
    this.query = query;
    this.negated = negated;
  }

  /** A literal for `key` (a string is taken as UTF-8). */
  static term(key: string | Uint8Array, negated = false): Literal {
    return new Literal(toBytes(key), null, negated);
  }

  /** A dereference literal `*query`: the union of `query`'s values used as keys. */
  static deref(query: Q, negated = false): Literal {
    // Bounded so that comparing, formatting and evaluating never recurse without end.
    if (derefDepth(query) >= MAX_DEREF_DEPTH) {
      throw new DiscoDBError('ERR_DISCODB_QUERY', `dereferences nest deeper than ${MAX_DEREF_DEPTH}`);
    }
    // `*` of the no-clause query and of "false" both match nothing; keep one
    // form so that the string form round-trips (`+()`).
    return new Literal(null, query.clauses.length === 0 ? FALSE : query, negated);
  }

  /** True when this literal dereferences a query (`*A`). */
  get isDereference(): boolean {
    return this.query !== null;
  }

  /** The same literal with its negation flipped. */
  negate(): Literal {
    return new Literal(this.key, this.query, !this.negated);
  }

  /** Structural equality. */
  equals(other: Literal): boolean {
    return compareLiterals(this, other) === 0;
  }

  /** The literal in query syntax (`~key`, `+(inner)`); parses back to itself. */
  toString(): string {
    return formatLiteral(this, false);
  }
}

/** A disjunction (OR) of literals, kept as a sorted set. */
export class Clause {
  /** The literals, distinct and in canonical order. */
  readonly literals: readonly Literal[];

  /** Builds the set of `literals` (order and repeats do not matter). */
  constructor(literals: Iterable<Literal>) {
    this.literals = sortedSet(Array.from(literals), compareLiterals);
  }

  /** Structural (set) equality. */
  equals(other: Clause): boolean {
    return compareClauses(this, other) === 0;
  }

  /** Literals joined with ` | `. */
  toString(): string {
    return formatClause(this, false);
  }
}

/**
 * A query in conjunctive normal form: a set of clauses, all of which must hold.
 * Immutable; every operator returns a new Q.
 *
 * Note the Python binding's conventions, kept here: the query with no clauses
 * is the identity of `&` and absorbs `|` (it behaves as "true" in the
 * algebra), yet querying it returns nothing (as the C library does). `~` of it
 * is itself. The query with one empty clause (`Q.or()`, written `()`) is
 * "false".
 */
export class Q {
  /** The clauses, distinct and in canonical order. */
  readonly clauses: readonly Clause[];
  /** How deep dereferences nest inside (computed on first use). @internal */
  derefDepthCache = -1;
  /**
   * The keys of all literals, clause after clause, for evaluation: built on
   * first use (by {@link flatten}) so that evaluating a prebuilt query reads a
   * few compact arrays rather than walking clause and literal objects. @internal
   */
  flatKeys: Buffer[] | null = null;
  /** 1 where the literal of `flatKeys` is negated. @internal */
  flatNegated: Uint8Array | null = null;
  /** Clause i holds the literals flatStarts[i] .. flatStarts[i + 1] - 1. @internal */
  flatStarts: Int32Array | null = null;

  /** Builds the set of `clauses` (order and repeats do not matter). */
  constructor(clauses: Iterable<Clause> = []) {
    this.clauses = sortedSet(Array.from(clauses), compareClauses);
  }

  /**
   * Parses the Q language (spec §9.2): `~` binds tightest, then `&`, then `|`;
   * parentheses group; `*` (or `+`) dereferences. Terms are runs of characters
   * other than `& | ~ + * ( )`, trimmed of whitespace, taken as UTF-8, where a
   * `+` right after a term character belongs to the term (`libstdc++6`, `g++`:
   * a dereference `+` only starts a term, so no query Python accepts changes
   * meaning); unlike Python's `eval`, backslashes in them are literal. `"…"` quotes any key
   * (escapes `\\ \" \n \r \t \xHH`) and `()` is the empty clause; Python
   * rejects both forms, so they change the meaning of nothing it accepts.
   * `''` (and, unlike Python, a whitespace-only string) is the query with no
   * clauses. Throws `ERR_DISCODB_QUERY` with `position` (0-based) on a syntax error.
   */
  static parse(text: string): Q {
    if (typeof text !== 'string') {
      throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `Q.parse expects a string, got ${typeof text}`);
    }
    return new Parser(text).parseAll();
  }

  /** The one-literal query for `key`; any bytes (`&`, newlines, the empty key...) can be queried this way. */
  static term(key: string | Uint8Array): Q {
    return Q.wrap(Literal.term(key));
  }

  /** Lifts a Q, Clause or Literal into a Q (as Python's `Q.wrap`). */
  static wrap(x: Q | Clause | Literal): Q {
    if (x instanceof Q) return x;
    if (x instanceof Clause) return new Q([x]);
    return new Q([new Clause([x])]);
  }

  /** Conjunction of all `qs` (the union of their clauses). `Q.and()` is the query with no clauses. */
  static and(...qs: Q[]): Q {
    return Q.andAll(qs);
  }

  /** Disjunction of all `qs`, distributed into CNF. `Q.or()` is "false" (one empty clause). */
  static or(...qs: Q[]): Q {
    return Q.orAll(qs);
  }

  /**
   * {@link Q.and} of a list or any iterable, in O(n log n) for n clauses: build
   * a large query this way (or with `Q.parse`), not by `q = q.and(x)` in a
   * loop, which copies the growing query at every step.
   */
  static andAll(qs: Iterable<Q>): Q {
    const b = new AndBuilder();
    for (const q of qs) b.add(q);
    return b.result();
  }

  /** {@link Q.or} of a list or any iterable; `~a | ~b | …` of n terms in O(n log n). */
  static orAll(qs: Iterable<Q>): Q {
    const b = new OrBuilder();
    for (const q of qs) b.add(q);
    return b.result();
  }

  /** Negation of `q` by De Morgan, back into CNF. */
  static not(q: Q): Q {
    return notQ(q);
  }

  /** The dereference `*q`: one clause holding the meta literal of `q`. */
  static deref(q: Q): Q {
    return Q.wrap(Literal.deref(q));
  }

  /** `Q.parse(Q.urlscan(s))` inverse of {@link Q.urlformat}: `/` → `&`, `,` → `|`, percent-decoded. */
  static urlscan(text: string): Q {
    let s = percentDecode(text);
    s = stripWs(s);
    // Python: .strip('/') then the two replacements.
    let a = 0;
    let b = s.length;
    while (a < b && s.charCodeAt(a) === 0x2f) a++;
    while (b > a && s.charCodeAt(b - 1) === 0x2f) b--;
    s = s.slice(a, b);
    return Q.parse(s.replace(/\//g, '&').replace(/,/g, '|'));
  }

  /** `this & other`. */
  and(other: Q): Q {
    return Q.and(this, other);
  }

  /** `this | other`. */
  or(other: Q): Q {
    return Q.orAll([this, other]);
  }

  /** `~this`. */
  not(): Q {
    return notQ(this);
  }

  /** `*this`. */
  deref(): Q {
    return Q.deref(this);
  }

  /** True when this query dereferences anything (needs a db to resolve). */
  get hasDereference(): boolean {
    return derefDepth(this) > 0;
  }

  /** Set equality of clauses (of sets of literals), as the Python binding's `==`. */
  equals(other: Q): boolean {
    return compareQs(this, other) === 0;
  }

  /**
   * The query in the Python binding's format: clauses joined with ` & `, each
   * in parentheses when there are several, literals with ` | `, `~` for
   * negation, `+(…)` for a dereference. Terms that the plain syntax cannot
   * carry (operators, surrounding spaces, control or non-UTF-8 bytes, empty)
   * are written as quoted terms, so `Q.parse(q.toString())` equals `q`.
   */
  toString(): string {
    return formatQ(this, false);
  }

  /**
   * The URL form of the Python binding: `&` → `/`, `|` → `,`, no spaces,
   * percent-encoded except `:()/,~`. Terms that would not survive it are
   * quoted (with `\x2f`, `\x2c` escapes) so that `Q.urlscan` gives this query back.
   */
  urlformat(): string {
    return percentEncode(formatQ(this, true));
  }
}

/** The query with one empty clause: matches nothing, identity of `|`. */
const FALSE = new Q([new Clause([])]);

// ---------------------------------------------------------------------------
// Canonical order

function toBytes(key: string | Uint8Array): Buffer {
  if (typeof key === 'string') return Buffer.from(key, 'utf8');
  if (key instanceof Uint8Array) return Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  throw new DiscoDBError('ERR_DISCODB_ARGUMENT', `a query term must be a string or bytes, got ${typeof key}`);
}

/** Keys before dereferences; keys by bytes; then positive before negated. */
function compareLiterals(a: Literal, b: Literal): number {
  if (a.key !== null) {
    if (b.key === null) return -1;
    const c = Buffer.compare(a.key, b.key);
    if (c !== 0) return c;
  } else {
    if (b.key !== null) return 1;
    const c = compareQs(a.query!, b.query!);
    if (c !== 0) return c;
  }
  return a.negated === b.negated ? 0 : a.negated ? 1 : -1;
}

function compareClauses(a: Clause, b: Clause): number {
  return compareSeq(a.literals, b.literals, compareLiterals);
}

function compareQs(a: Q, b: Q): number {
  return compareSeq(a.clauses, b.clauses, compareClauses);
}

function compareSeq<T>(a: readonly T[], b: readonly T[], cmp: (x: T, y: T) => number): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = cmp(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

function sortedSet<T>(items: T[], cmp: (x: T, y: T) => number): T[] {
  items.sort(cmp);
  let w = 0;
  for (let r = 0; r < items.length; r++) {
    if (w === 0 || cmp(items[w - 1]!, items[r]!) !== 0) items[w++] = items[r]!;
  }
  items.length = w;
  return items;
}

// ---------------------------------------------------------------------------
// CNF operators
//
// Both builders take their operands one at a time and do the work once at the
// end (or when a limit must be checked), so an n-term AND or OR costs
// O(n log n): sorting n clauses or literals, most of them already in sorted
// runs (V8's TimSort merges runs in linear time).

function tooLarge(n: number, position?: number, what = 'clauses', limit = MAX_CLAUSES): DiscoDBError {
  const where = position === undefined ? '' : ` at position ${position}`;
  return new DiscoDBError(
    'ERR_DISCODB_QUERY',
    `query too large${where}: its conjunctive normal form needs ${n} ${what} (limit ${limit})`,
    position === undefined ? {} : { position },
  );
}

/** The union of the clauses of every operand, refused past {@link MAX_CLAUSES} distinct clauses. */
class AndBuilder {
  private readonly all: Clause[] = [];
  /** Past this many (possibly repeated) clauses, deduplicate and check the limit. */
  private checkAt = MAX_CLAUSES;

  add(q: Q, position?: number): void {
    const all = this.all;
    for (const c of q.clauses) all.push(c);
    if (all.length > this.checkAt) {
      sortedSet(all, compareClauses);
      if (all.length > MAX_CLAUSES) throw tooLarge(all.length, position);
      // Doubling keeps the re-sorting amortised O(log n) per clause.
      this.checkAt = Math.max(MAX_CLAUSES, 2 * all.length);
    }
  }

  result(): Q {
    return new Q(this.all);
  }
}

/**
 * Distribution `{ c ∪ d : c ∈ a, d ∈ b }` (Python's `Q.__or__`) over all
 * operands at once. Operands with one clause only add literals to every
 * result clause: they are merged into one common literal set, so an OR of n
 * terms (negated or not) is one sort, not n copies of a growing clause. Only
 * operands with several clauses are multiplied out, one after the other, as
 * the Python binding does (the product is deduplicated at each step).
 */
class OrBuilder {
  /** The literals of every one-clause operand. */
  private readonly common: Literal[] = [];
  /** The product of the multi-clause operands so far, or null before the first. */
  private product: Clause[] | null = null;
  /** An operand with no clauses ("true") absorbs the disjunction. */
  private absorbed: Q | null = null;

  add(q: Q, position?: number): void {
    if (this.absorbed !== null) return;
    const n = q.clauses.length;
    if (n === 0) {
      this.absorbed = q;
      return;
    }
    if (n === 1) {
      const common = this.common;
      for (const l of q.clauses[0]!.literals) common.push(l);
      if (common.length > MAX_LITERALS) throw tooLarge(common.length, position, 'literals', MAX_LITERALS);
      return;
    }
    const acc = this.product;
    if (acc === null) {
      this.product = q.clauses.slice();
      return;
    }
    const size = acc.length * n;
    if (size > MAX_CLAUSES) throw tooLarge(size, position);
    const out: Clause[] = [];
    let literals = 0;
    for (const c of acc) {
      for (const d of q.clauses) {
        const merged = mergeSets(c.literals, d.literals);
        literals += merged.length;
        if (literals > MAX_LITERALS) throw tooLarge(literals, position, 'literals', MAX_LITERALS);
        out.push(new Clause(merged));
      }
    }
    this.product = sortedSet(out, compareClauses);
  }

  result(): Q {
    if (this.absorbed !== null) return this.absorbed;
    const common = sortedSet(this.common, compareLiterals);
    const acc = this.product;
    if (acc === null) return new Q([new Clause(common)]);
    if (common.length === 0) return new Q(acc);
    let literals = 0;
    for (const c of acc) literals += c.literals.length + common.length;
    if (literals > MAX_LITERALS) throw tooLarge(literals, undefined, 'literals', MAX_LITERALS);
    return new Q(acc.map((c) => new Clause(mergeSets(c.literals, common))));
  }
}

/** The sorted union of two sorted sets of literals, in linear time. */
function mergeSets(a: readonly Literal[], b: readonly Literal[]): Literal[] {
  const out: Literal[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const c = compareLiterals(a[i]!, b[j]!);
    if (c < 0) out.push(a[i++]!);
    else if (c > 0) out.push(b[j++]!);
    else {
      out.push(a[i++]!);
      j++;
    }
  }
  while (i < a.length) out.push(a[i++]!);
  while (j < b.length) out.push(b[j++]!);
  return out;
}

/** De Morgan: `~(c1 & … & cn)` = `~c1 | … | ~cn`, each `~c` the AND of its negated literals. */
function notQ(q: Q, position?: number): Q {
  // Python keeps ~Q([]) = Q([]).
  if (q.clauses.length === 0) return q;
  const b = new OrBuilder();
  for (const c of q.clauses) b.add(new Q(c.literals.map((l) => new Clause([l.negate()]))), position);
  return b.result();
}

/**
 * Fills `q.flatKeys`/`flatNegated`/`flatStarts` (once) for a query without
 * dereferences. @internal
 */
export function flatten(q: Q): void {
  if (q.flatKeys !== null) return;
  const clauses = q.clauses;
  let n = 0;
  for (const c of clauses) n += c.literals.length;
  const keys: Buffer[] = [];
  const negated = new Uint8Array(n);
  const starts = new Int32Array(clauses.length + 1);
  for (let i = 0; i < clauses.length; i++) {
    starts[i] = keys.length;
    for (const l of clauses[i]!.literals) {
      if (l.negated) negated[keys.length] = 1;
      keys.push(l.key!);
    }
  }
  starts[clauses.length] = n;
  q.flatNegated = negated;
  q.flatStarts = starts;
  q.flatKeys = keys;
}

/** How deep dereferences nest in `q` (0: none); each level was bounded when it was built. */
function derefDepth(q: Q): number {
  if (q.derefDepthCache >= 0) return q.derefDepthCache;
  let d = 0;
  for (const c of q.clauses) {
    for (const l of c.literals) if (l.query !== null) d = Math.max(d, derefDepth(l.query) + 1);
  }
  q.derefDepthCache = d;
  return d;
}

// ---------------------------------------------------------------------------
// Formatting


function isWs(c: number): boolean {
  // Python 2's \s and str.strip(): ASCII space, \t \n \v \f \r.
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function isOp(c: number): boolean {
  return c === 0x26 || c === 0x7c || c === 0x7e || c === 0x2b || c === 0x2a || c === 0x28 || c === 0x29;
}

function stripWs(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isWs(s.charCodeAt(a))) a++;
  while (b > a && isWs(s.charCodeAt(b - 1))) b--;
  return s.slice(a, b);
}

function formatQ(q: Q, url: boolean): string {
  const many = q.clauses.length > 1;
  const parts = q.clauses.map((c) => {
    const s = formatClause(c, url);
    return many || c.literals.length === 0 ? `(${s})` : s;
  });
  return parts.join(url ? '/' : ' & ');
}

function formatClause(c: Clause, url: boolean): string {
  return c.literals.map((l) => formatLiteral(l, url)).join(url ? ',' : ' | ');
}

function formatLiteral(l: Literal, url: boolean): string {
  const neg = l.negated ? '~' : '';
  if (l.query !== null) return `${neg}+(${formatQ(l.query, url)})`;
  return neg + formatTerm(l.key!, url);
}

const FATAL = new TextDecoder('utf-8', { fatal: true });

/** A key as a plain term when the grammar can carry it, else as a quoted term. */
function formatTerm(key: Buffer, url: boolean): string {
  let text: string | null = null;
  try {
    text = FATAL.decode(key);
  } catch {
    text = null;
  }
  if (text !== null && isPlain(text, url)) return text;
  return quoteTerm(key, url);
}

function isPlain(s: string, url: boolean): boolean {
  if (s.length === 0) return false;
  const first = s.charCodeAt(0);
  if (isWs(first) || first === 0x22 || isWs(s.charCodeAt(s.length - 1))) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // `+` is a term character when it follows one (i > 0: the first character is never `+` here).
    if (isOp(c) && (c !== 0x2b || i === 0 || isWs(s.charCodeAt(i - 1)))) return false;
    if (c < 0x20 || c === 0x7f) return false;
    // In a URL, urlformat drops spaces and urlscan turns `/` and `,` into operators.
    if (url && (isWs(c) || c === 0x2f || c === 0x2c)) return false;
  }
  return true;
}

/** `"…"` with `\\ \" \n \r \t \xHH` escapes; valid UTF-8 stays as text. */
function quoteTerm(key: Buffer, url: boolean): string {
  let out = '"';
  let i = 0;
  while (i < key.length) {
    const b = key[i]!;
    const n = b < 0x80 ? 1 : utf8SeqLen(key, i);
    if (n === 0) {
      out += `\\x${hex2(b)}`;
      i++;
      continue;
    }
    if (n > 1) {
      out += key.toString('utf8', i, i + n);
      i += n;
      continue;
    }
    i++;
    if (b === 0x22) out += '\\"';
    else if (b === 0x5c) out += '\\\\';
    else if (b === 0x0a) out += '\\n';
    else if (b === 0x0d) out += '\\r';
    else if (b === 0x09) out += '\\t';
    else if (b < 0x20 || b === 0x7f || (url && (b === 0x2f || b === 0x2c))) out += `\\x${hex2(b)}`;
    else out += String.fromCharCode(b);
  }
  return out + '"';
}

function hex2(b: number): string {
  return (b < 16 ? '0' : '') + b.toString(16);
}

/** Length of the valid UTF-8 sequence starting at `i` (lead byte ≥ 0x80), or 0. */
function utf8SeqLen(buf: Buffer, i: number): number {
  const b = buf[i]!;
  let n: number;
  let min: number;
  if (b >= 0xc2 && b <= 0xdf) {
    n = 2;
    min = 0x80;
  } else if (b >= 0xe0 && b <= 0xef) {
    n = 3;
    min = 0x800;
  } else if (b >= 0xf0 && b <= 0xf4) {
    n = 4;
    min = 0x10000;
  } else return 0;
  if (i + n > buf.length) return 0;
  let cp = b & (0x7f >> n);
  for (let k = 1; k < n; k++) {
    const c = buf[i + k]!;
    if ((c & 0xc0) !== 0x80) return 0;
    cp = (cp << 6) | (c & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

// Python's urllib.quote: letters, digits and `_.-` plus the safe set stay.
const URL_SAFE = new Uint8Array(128);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-:()/,~') {
  URL_SAFE[ch.charCodeAt(0)] = 1;
}

function percentEncode(s: string): string {
  const bytes = Buffer.from(s, 'utf8');
  let out = '';
  for (const b of bytes) {
    out += b < 128 && URL_SAFE[b] === 1 ? String.fromCharCode(b) : `%${hex2(b).toUpperCase()}`;
  }
  return out;
}

/** Python's `unquote`: `%XX` → byte (invalid sequences stay), then UTF-8. */
function percentDecode(s: string): string {
  if (!s.includes('%')) return s;
  const src = Buffer.from(s, 'utf8');
  const out = Buffer.alloc(src.length);
  let w = 0;
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
    if (b === 0x25 && i + 2 < src.length && isHex(src[i + 1]!) && isHex(src[i + 2]!)) {
      out[w++] = parseInt(String.fromCharCode(src[i + 1]!, src[i + 2]!), 16);
      i += 2;
    } else out[w++] = b;
  }
  return out.toString('utf8', 0, w);
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

// ---------------------------------------------------------------------------
// Parser

const T_AND = 1;
const T_OR = 2;
const T_NOT = 3;
const T_DEREF = 4;
const T_LPAREN = 5;
const T_RPAREN = 6;
const T_TERM = 7;
const T_END = 8;

/** The query as a JSON string for messages; a long one cut to the part around `position`. */
function excerpt(s: string, position: number): string {
  const MAX = 120;
  if (s.length <= MAX) return JSON.stringify(s);
  const from = Math.max(0, position - MAX / 2);
  const to = Math.min(s.length, from + MAX);
  return `${from > 0 ? `…(${from} chars) ` : ''}${JSON.stringify(s.slice(from, to))}${to < s.length ? ` …(${s.length - to} more)` : ''}`;
}

function describe(tok: number, text: string, pos: number): string {
  if (tok === T_END) return 'the end of the query';
  if (tok === T_TERM) return 'a term';
  return `'${text[pos]}'`;
}

/**
 * Recursive descent over the Python grammar (spec §9.2):
 *
 *     expr  := conj ('|' conj)*
 *     conj  := unary ('&' unary)*
 *     unary := '~' unary | ('*' | '+') unary | '(' expr ')' | '(' ')' | TERM
 *
 * A TERM is a run of characters other than `& | ~ + * ( )`, trimmed of ASCII
 * whitespace; a `+` directly after a non-space character of the run belongs
 * to it. Extensions over Python, which rejects all of these inputs (the `+`
 * rule included: Python has no binary `+` on queries):
 * a quoted term `"…"` (with `\\ \" \n \r \t \xHH` escapes; recognised only when
 * the closing quote is followed by an operator or the end, so every term Python
 * accepts keeps its meaning) and `()` for the empty clause.
 */
class Parser {
  private readonly s: string;
  private i = 0;
  private tok = T_END;
  private pos = 0;
  private term: Buffer | null = null;
  /** Start and raw end (before trimming) of the last plain term, for the quoting hint. */
  private termStart = -1;
  private termEnd = -1;

  constructor(s: string) {
    this.s = s;
  }

  parseAll(): Q {
    // Python: '' → Q([]); we also accept whitespace only (Python raises there).
    if (stripWs(this.s).length === 0) return new Q([]);
    this.advance();
    const q = this.expr(0);
    if (this.tok !== T_END) {
      this.fail(this.pos, `expected '&', '|' or the end of the query, found ${describe(this.tok, this.s, this.pos)}`);
    }
    return q;
  }

  private fail(position: number, what: string): never {
    const hint = this.quotingHint(position);
    throw new DiscoDBError('ERR_DISCODB_QUERY', `invalid query at position ${position}: ${what}${hint} (in ${excerpt(this.s, position)})`, {
      position,
    });
  }

  private expr(depth: number): Q {
    const first = this.conj(depth);
    if (this.tok !== T_OR) return first;
    const b = new OrBuilder();
    b.add(first);
    while (this.current() === T_OR) {
      const at = this.pos;
      this.advance();
      b.add(this.conj(depth), at);
    }
    return b.result();
  }

  private conj(depth: number): Q {
    const first = this.unary(depth);
    if (this.tok !== T_AND) return first;
    const b = new AndBuilder();
    b.add(first);
    while (this.current() === T_AND) {
      const at = this.pos;
      this.advance();
      b.add(this.unary(depth), at);
    }
    return b.result();
  }

  private unary(depth: number): Q {
    if (depth > MAX_DEPTH) this.fail(this.pos, `nesting deeper than ${MAX_DEPTH}`);
    const at = this.pos;
    switch (this.tok) {
      case T_NOT:
        this.advance();
        return notQ(this.unary(depth + 1), at);
      case T_DEREF: {
        this.advance();
        const inner = this.unary(depth + 1);
        if (derefDepth(inner) >= MAX_DEREF_DEPTH) this.fail(at, `dereferences nest deeper than ${MAX_DEREF_DEPTH}`);
        return Q.deref(inner);
      }
      case T_LPAREN: {
        this.advance();
        // (this.current(): TS keeps `this.tok` narrowed across advance().)
        if (this.current() === T_RPAREN) {
          this.advance();
          return FALSE;
        }
        const q = this.expr(depth + 1);
        if (this.current() !== T_RPAREN) {
          this.fail(this.pos, `expected ')' to close the '(' at position ${at}, found ${describe(this.tok, this.s, this.pos)}`);
        }
        this.advance();
        return q;
      }
      case T_TERM: {
        const q = Q.wrap(Literal.term(this.term!));
        this.advance();
        return q;
      }
      default:
        return this.fail(this.pos, `expected a term, '(', '~' or '*', found ${describe(this.tok, this.s, this.pos)}`);
    }
  }

  /**
   * When the error is an operator glued to the term before it (`g*`,
   * `foo(1)`, `a~b`), the text probably is a key: suggest its quoted form.
   */
  private quotingHint(position: number): string {
    const s = this.s;
    if (position !== this.termEnd || position >= s.length || !isOp(s.charCodeAt(position)) || isWs(s.charCodeAt(position - 1))) return '';
    // The key would run to the next `&` or `|`, without parentheses left open by it.
    let end = position;
    while (end < s.length && s[end] !== '&' && s[end] !== '|') end++;
    while (end > position && isWs(s.charCodeAt(end - 1))) end--;
    let open = 0;
    for (let k = this.termStart; k < end; k++) open += s[k] === '(' ? 1 : s[k] === ')' ? -1 : 0;
    while (open < 0 && end > position && s[end - 1] === ')') {
      end--;
      open++;
      while (end > position && isWs(s.charCodeAt(end - 1))) end--;
    }
    if (end <= position) return '';
    const word = s.slice(this.termStart, end);
    return `; to use ${word} as a key, quote it: ${quoteTerm(Buffer.from(word, 'utf8'), false)}`;
  }

  private current(): number {
    return this.tok;
  }

  /** Reads the next token into tok/pos/term. */
  private advance(): void {
    const s = this.s;
    const n = s.length;
    let i = this.i;
    while (i < n && isWs(s.charCodeAt(i))) i++;
    this.pos = i;
    this.term = null;
    if (i >= n) {
      this.tok = T_END;
      this.i = i;
      return;
    }
    const c = s.charCodeAt(i);
    if (isOp(c)) {
      this.tok =
        c === 0x26 ? T_AND : c === 0x7c ? T_OR : c === 0x7e ? T_NOT : c === 0x28 ? T_LPAREN : c === 0x29 ? T_RPAREN : T_DEREF;
      this.i = i + 1;
      return;
    }
    this.tok = T_TERM;
    if (c === 0x22 && this.quoted(i)) return;
    // `+` directly after a term character belongs to the term (`g++`,
    // `libstdc++6`): a dereference `+` only starts a term.
    let j = i + 1;
    for (; j < n; j++) {
      const d = s.charCodeAt(j);
      if (isOp(d) && (d !== 0x2b || isWs(s.charCodeAt(j - 1)))) break;
    }
    let end = j;
    while (end > i && isWs(s.charCodeAt(end - 1))) end--;
    this.term = Buffer.from(s.slice(i, end), 'utf8');
    this.termStart = i;
    this.termEnd = j;
    this.i = j;
  }

  /** Tries a quoted term at `start`; false means "read it as a plain term". */
  private quoted(start: number): boolean {
    const s = this.s;
    const n = s.length;
    const bytes: number[] = [];
    let badEscape = -1;
    let k = start + 1;
    for (;;) {
      if (k >= n) return false; // unterminated: a plain term, as in Python
      const c = s.charCodeAt(k);
      if (c === 0x22) break;
      if (c === 0x5c) {
        const e = s[k + 1];
        if (e === '\\' || e === '"') bytes.push(e.charCodeAt(0));
        else if (e === 'n') bytes.push(0x0a);
        else if (e === 'r') bytes.push(0x0d);
        else if (e === 't') bytes.push(0x09);
        else if (e === 'x' && k + 3 < n && /^[0-9a-fA-F]{2}$/.test(s.slice(k + 2, k + 4))) {
          bytes.push(parseInt(s.slice(k + 2, k + 4), 16));
          k += 4;
          continue;
        } else if (badEscape < 0) badEscape = k;
        k += 2;
        continue;
      }
      // Copy one code point (a surrogate pair counts as one) as UTF-8.
      const cp = s.codePointAt(k)!;
      const len = cp > 0xffff ? 2 : 1;
      for (const b of Buffer.from(s.slice(k, k + len), 'utf8')) bytes.push(b);
      k += len;
    }
    // (`"x"+…` is a plain term too: a `+` right after a term character belongs to it.)
    if (s.charCodeAt(k + 1) === 0x2b) return false;
    let m = k + 1;
    while (m < n && isWs(s.charCodeAt(m))) m++;
    if (m < n && !isOp(s.charCodeAt(m))) return false;
    if (badEscape >= 0) this.fail(badEscape, `unknown escape '${s.slice(badEscape, badEscape + 2)}' in a quoted term`);
    this.term = Buffer.from(bytes);
    this.i = k + 1;
    return true;
  }
}
