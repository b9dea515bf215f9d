/** The type of a tap subtest's `t`, for helpers that take one. */
import type t from 'tap';

export type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];
