import { ValidationError } from '../core/errors.js';

/** The one rule for counter names, record keys and lock names, shared by every backend. */
const KEY = /^[A-Za-z0-9][A-Za-z0-9._:/=-]{0,255}$/;

export function assertKey(what: string, key: string): void {
  if (!KEY.test(key) || key.includes('..')) {
    throw new ValidationError(`${what} '${key}' is invalid: use 1-256 characters from A-Z a-z 0-9 . _ : / = - without '..'`);
  }
}
