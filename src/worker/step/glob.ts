import { Minimatch } from 'minimatch';
import { ValidationError } from '../../core/errors.js';

/**
 * Globs over '/'-separated paths relative to a root (minimatch syntax, dotfiles
 * included). A pattern that matches a directory selects everything below it, so
 * `dist` and `dist/**` mean the same.
 */
export class PathMatcher {
  private readonly matchers: Minimatch[];

  constructor(
    readonly patterns: string[],
    what: string,
  ) {
    this.matchers = patterns.map((raw) => {
      const pattern = raw.replace(/^(\.\/)+/, '');
      if (pattern.startsWith('/') || /^[A-Za-z]:/.test(pattern) || pattern.split('/').includes('..')) {
        throw new ValidationError(`${what} pattern '${raw}' must be relative and without '..'`, { pattern: raw });
      }
      return new Minimatch(pattern, { dot: true });
    });
  }

  /** The path, or a directory it is in, matches some pattern. */
  matches(path: string): boolean {
    const parts = path.split('/');
    for (let n = 1; n <= parts.length; n++) {
      const prefix = parts.slice(0, n).join('/');
      if (this.matchers.some((m) => m.match(prefix))) return true;
    }
    return false;
  }

  /** Something below directory `dir` could match (false lets a walk skip the directory). */
  mayContain(dir: string): boolean {
    return this.matchers.some((m) => m.match(dir, true));
  }
}
