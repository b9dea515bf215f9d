/**
 * The error codes every discodb failure carries. They are stable: match on
 * `err.code`, never on the message.
 */
export type DiscoDBErrorCode =
  /** The image is not a discodb, is truncated, or is internally inconsistent. */
  | 'ERR_DISCODB_CORRUPT'
  /** A record, key or value given to the writer (or a parser) is malformed. */
  | 'ERR_DISCODB_INPUT'
  /** A query string could not be parsed, or a query cannot be evaluated. */
  | 'ERR_DISCODB_QUERY'
  /** An argument to the API is of the wrong type or out of range. */
  | 'ERR_DISCODB_ARGUMENT'
  /** The database was used after `close()`. */
  | 'ERR_DISCODB_CLOSED'
  /** A file could not be opened, read, written or renamed. */
  | 'ERR_DISCODB_IO'
  /** Data exceeds a limit of the format (u32 counts, 2^24 4-grams, ...). */
  | 'ERR_DISCODB_LIMIT'
  /** The command line was used wrongly (the CLI exits 2 on these). */
  | 'ERR_DISCODB_USAGE'
  /** A build was stopped before it finished (`writer.destroy()`); nothing was written. */
  | 'ERR_DISCODB_ABORTED'
  /** A worker thread of a threaded build failed (it crashed or hit an internal error). */
  | 'ERR_DISCODB_WORKER';

/** Extra facts attached to an error, so that callers need not parse messages. */
export interface DiscoDBErrorDetails {
  /** Byte offset inside the db image where the problem was found. */
  offset?: number;
  /** 1-based line number of the input where the problem was found. */
  line?: number;
  /** 1-based record number of the writer input. */
  record?: number;
  /** 0-based character position in a query string. */
  position?: number;
  /** File the problem relates to. */
  path?: string;
  /** The underlying error, when one was wrapped. */
  cause?: unknown;
}

/** The one error class of discodb: a stable `code` plus a message that says what and where. */
export class DiscoDBError extends Error {
  readonly code: DiscoDBErrorCode;
  readonly offset?: number;
  readonly line?: number;
  readonly record?: number;
  readonly position?: number;
  readonly path?: string;

  constructor(code: DiscoDBErrorCode, message: string, details: DiscoDBErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'DiscoDBError';
    this.code = code;
    if (details.offset !== undefined) this.offset = details.offset;
    if (details.line !== undefined) this.line = details.line;
    if (details.record !== undefined) this.record = details.record;
    if (details.position !== undefined) this.position = details.position;
    if (details.path !== undefined) this.path = details.path;
  }
}

/** Shorthand for a corruption error at a byte offset of the image. */
export function corrupt(message: string, offset: number): DiscoDBError {
  return new DiscoDBError('ERR_DISCODB_CORRUPT', `${message} (at byte offset ${offset})`, { offset });
}
