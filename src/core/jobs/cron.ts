/**
 * A 5-field cron schedule (minute hour day-of-month month day-of-week), evaluated in UTC.
 * Supports `*`, lists, ranges, steps (`*\/5`, `1-10/2`), month and weekday names, 7 as
 * Sunday, the @daily-style macros, and Vixie cron's day rule: when both day fields are
 * restricted (neither starts with `*`) a day matches if EITHER matches, otherwise both must.
 *
 * cron-parser (npm) does this and time zones too, but pulls in luxon; UTC-only needs this much.
 */
import { ValidationError } from '../errors.js';

export interface CronSchedule {
  expr: string;
  minutes: readonly boolean[];
  hours: readonly boolean[];
  /** Index 1-31. */
  days: readonly boolean[];
  /** Index 1-12. */
  months: readonly boolean[];
  /** Index 0-6, Sunday = 0. */
  weekdays: readonly boolean[];
  domStar: boolean;
  dowStar: boolean;
}

interface Field {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const FIELDS: readonly Field[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['', ...'JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC'.split(' ')] },
  { name: 'day-of-week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

const MACROS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const MINUTE_MS = 60_000;
/** Calendars repeat (weekdays included) every 400 years: no match within that, none ever. */
const HORIZON_MS = 401 * 366 * 24 * 3600 * 1000;

export function parseCron(expr: string): CronSchedule {
  const fail = (why: string): never => {
    throw new ValidationError(`invalid cron expression '${expr}': ${why}`, { expr });
  };
  const text = MACROS[expr.trim().toLowerCase()] ?? expr.trim();
  const parts = text.split(/\s+/);
  if (parts.length !== 5) {
    fail(`expected 5 fields (minute hour day-of-month month day-of-week), got ${text ? parts.length : 0}`);
  }
  const [minutes, hours, days, months, weekdays] = FIELDS.map((field, i) => parseField(parts[i] ?? '', field, fail));
  const schedule: CronSchedule = {
    expr,
    minutes: minutes ?? [],
    hours: hours ?? [],
    days: days ?? [],
    months: months ?? [],
    weekdays: weekdays ?? [],
    domStar: parts[2]?.startsWith('*') ?? false,
    dowStar: parts[4]?.startsWith('*') ?? false,
  };
  if (findTick(schedule, 0) === null) fail('it never fires (that day never occurs in the given months)');
  return schedule;
}

function parseField(text: string, field: Field, fail: (why: string) => never): boolean[] {
  const set = new Array<boolean>(field.max + 1).fill(false);
  const value = (token: string): number => {
    const named = token === '' ? -1 : (field.names?.indexOf(token.toUpperCase()) ?? -1);
    const n = /^\d+$/.test(token) ? Number(token) : named >= 0 ? named : NaN;
    if (Number.isNaN(n)) fail(`'${token}' is not a ${field.name}`);
    if (n < field.min || n > field.max) fail(`${field.name} must be ${field.min}-${field.max}`);
    return n;
  };
  for (const part of text.split(',')) {
    const [range = '', stepText, extra] = part.split('/');
    if (extra !== undefined) fail(`'${part}' has more than one '/'`);
    const step = stepText === undefined ? 1 : /^\d+$/.test(stepText) ? Number(stepText) : 0;
    if (step < 1) fail(`step '${stepText ?? ''}' in ${field.name} must be a positive number`);
    let [lo, hi] = [field.min, field.max];
    if (range !== '*') {
      const [from = '', to, more] = range.split('-');
      if (more !== undefined || from === '') fail(`'${part}' is not a ${field.name}, range or list`);
      lo = value(from);
      hi = to === undefined ? lo : value(to);
      if (to === undefined && stepText !== undefined) fail(`step '/${stepText}' needs '*' or a range before it`);
      if (lo > hi) fail(`range ${range} in ${field.name} is backwards`);
    }
    for (let v = lo; v <= hi; v += step) set[v] = true;
  }
  if (field.name === 'day-of-week' && set[7]) set[0] = true;
  return set;
}

function dayMatches(s: CronSchedule, date: Date): boolean {
  const dom = s.days[date.getUTCDate()] === true;
  const dow = s.weekdays[date.getUTCDay()] === true;
  return s.domStar || s.dowStar ? dom && dow : dom || dow;
}

function findTick(s: CronSchedule, afterMs: number): number | null {
  let t = Math.floor(afterMs / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
  const limit = t + HORIZON_MS;
  while (t <= limit) {
    const d = new Date(t);
    const [year, month, day, hour] = [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours()];
    if (!s.months[month + 1]) t = Date.UTC(year, month + 1, 1);
    else if (!dayMatches(s, d)) t = Date.UTC(year, month, day + 1);
    else if (!s.hours[hour]) t = Date.UTC(year, month, day, hour + 1);
    else if (!s.minutes[d.getUTCMinutes()]) t += MINUTE_MS;
    else return t;
  }
  return null;
}

/** The first tick strictly after `afterMs` (ms since the epoch, UTC). */
export function nextTick(expr: string | CronSchedule, afterMs: number): number {
  const schedule = typeof expr === 'string' ? parseCron(expr) : expr;
  if (!Number.isFinite(afterMs)) throw new ValidationError(`afterMs must be a finite number, got ${afterMs}`);
  const tick = findTick(schedule, afterMs);
  if (tick === null) throw new ValidationError(`cron expression '${schedule.expr}' never fires`);
  return tick;
}

/** Ticks in (fromMs, toMs], oldest first, at most `limit` of them. */
export function ticksBetween(expr: string | CronSchedule, fromMs: number, toMs: number, limit = 1000): number[] {
  const schedule = typeof expr === 'string' ? parseCron(expr) : expr;
  const ticks: number[] = [];
  for (let t = nextTick(schedule, fromMs); t <= toMs && ticks.length < limit; t = nextTick(schedule, t)) ticks.push(t);
  return ticks;
}
