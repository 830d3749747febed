/**
 * Job config text → plain data. YAML goes through the `yaml` package (YAML 1.2 core
 * schema: `on`/`yes` stay strings; duplicate keys are errors). JSON is parsed strictly by
 * JSON.parse, after a small scanner has located any syntax error: V8's messages do not
 * always carry a position, and YAML would quietly accept some invalid JSON (`{"a":}`).
 * The scanner also refuses duplicate keys, which JSON.parse would silently collapse.
 */
import { LineCounter, parseDocument } from 'yaml';
import { ValidationError } from '../errors.js';

export type ConfigContentType = 'yaml' | 'json';

export function parseConfigText(text: string, contentType: ConfigContentType): unknown {
  return contentType === 'json' ? parseJson(text) : parseYaml(text);
}

function syntaxError(format: string, line: number, column: number, why: string): ValidationError {
  const message = `job config is not valid ${format}: line ${line}, column ${column}: ${why}`;
  return new ValidationError(message, { errors: [{ path: '', message }], line, column });
}

function parseYaml(text: string): unknown {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const [error] = doc.errors;
  if (error) {
    const { line, col } = lineCounter.linePos(error.pos[0]);
    throw syntaxError('YAML', line, col, error.message);
  }
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (cause) {
    // Unresolved aliases and alias bombs surface only when converting.
    const message = `job config is not valid YAML: ${cause instanceof Error ? cause.message : String(cause)}`;
    throw new ValidationError(message, { errors: [{ path: '', message }] });
  }
}

function parseJson(text: string): unknown {
  const problem = jsonSyntaxProblem(text);
  if (problem) {
    const before = text.slice(0, problem.at);
    const line = before.split('\n').length;
    throw syntaxError('JSON', line, problem.at - before.lastIndexOf('\n'), problem.why);
  }
  return JSON.parse(text) as unknown;
}

class JsonProblem {
  constructor(
    readonly at: number,
    readonly why: string,
  ) {}
}

const MAX_DEPTH = 200;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** The first RFC 8259 violation (or duplicate key) in `text`, or null. */
export function jsonSyntaxProblem(text: string): JsonProblem | null {
  let i = 0;
  const fail = (why: string, at = i): never => {
    throw new JsonProblem(at, why);
  };
  const found = (): string => (i < text.length ? `'${text[i]}'` : 'the end of the text');
  const space = (): void => {
    while (' \t\n\r'.includes(text[i] ?? '_')) i++;
  };
  const expect = (char: string, what: string): void => {
    if (text[i] !== char) fail(`expected ${what}, found ${found()}`);
    i++;
  };
  const string = (): string => {
    const start = i++;
    for (;;) {
      const c = text[i];
      if (c === undefined) fail('unterminated string', start);
      else if (c === '"') break;
      else if (c < ' ') fail('control character in a string: escape it (\\n, \\t, ...)');
      else if (c === '\\') {
        const escaped = text[i + 1] ?? '';
        if (escaped === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
        else if ('"\\/bfnrt'.includes(escaped) && escaped !== '') i += 2;
        else fail('invalid escape sequence');
      } else i++;
    }
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (depth: number): void => {
    if (depth > MAX_DEPTH) fail(`nested more than ${MAX_DEPTH} levels deep`);
    const c = text[i];
    if (c === '{') {
      i++;
      space();
      const keys = new Set<string>();
      if (text[i] === '}') return void i++;
      for (;;) {
        if (text[i] !== '"') fail(`expected a property name in double quotes, found ${found()}`);
        const at = i;
        const key = string();
        if (keys.has(key)) fail(`duplicate key "${key}"`, at);
        keys.add(key);
        space();
        expect(':', "':' after the property name");
        space();
        value(depth + 1);
        space();
        if (text[i] === '}') return void i++;
        expect(',', "',' or '}'");
        space();
      }
    } else if (c === '[') {
      i++;
      space();
      if (text[i] === ']') return void i++;
      for (;;) {
        value(depth + 1);
        space();
        if (text[i] === ']') return void i++;
        expect(',', "',' or ']'");
        space();
      }
    } else if (c === '"') {
      string();
    } else if (c !== undefined && (c === '-' || (c >= '0' && c <= '9'))) {
      NUMBER.lastIndex = i;
      if (!NUMBER.test(text)) fail('invalid number');
      i = NUMBER.lastIndex;
    } else {
      const literal = ['true', 'false', 'null'].find((word) => text.startsWith(word, i));
      if (!literal) fail(`expected a value, found ${found()}`);
      i += literal?.length ?? 0;
    }
  };
  try {
    space();
    value(0);
    space();
    if (i < text.length) fail(`unexpected ${found()} after the end of the JSON value`);
    return null;
  } catch (error) {
    if (error instanceof JsonProblem) return error;
    throw error;
  }
}
