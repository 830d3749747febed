import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ValidationError } from '../../../src/core/errors.js';
import { nextTick, parseCron, ticksBetween } from '../../../src/core/jobs/cron.js';

/** `2024-05-10T10:02` (UTC) → ms; seconds may be given. */
const at = (iso: string) => Date.parse(iso.length === 16 ? `${iso}:00Z` : `${iso}Z`);
const iso = (ms: number) => new Date(ms).toISOString().slice(0, 16);

function ticks(expr: string, after: string, count: number): string[] {
  const result: string[] = [];
  let t = at(after);
  for (let i = 0; i < count; i++) result.push(iso((t = nextTick(expr, t))));
  return result;
}

describe('cron: next ticks (UTC)', () => {
  const cases: [string, string, string, string[]][] = [
    ['steps', '*/5 * * * *', '2024-05-10T10:02:30', ['2024-05-10T10:05', '2024-05-10T10:10']],
    ['strictly after a tick', '*/5 * * * *', '2024-05-10T10:05', ['2024-05-10T10:10']],
    ['daily, from the tick itself', '0 3 * * *', '2024-05-10T03:00', ['2024-05-11T03:00']],
    ['into the next month', '0 0 1 * *', '2024-01-31T12:00', ['2024-02-01T00:00', '2024-03-01T00:00']],
    ['into the next year', '59 23 31 12 *', '2024-12-31T23:59', ['2025-12-31T23:59']],
    ['the 31st skips short months', '0 0 31 * *', '2024-01-31T00:00', ['2024-03-31T00:00', '2024-05-31T00:00']],
    ['February 29th waits for a leap year', '0 0 29 2 *', '2023-03-01T00:00', ['2024-02-29T00:00', '2028-02-29T00:00']],
    ['2100 is not a leap year', '0 0 29 2 *', '2096-03-01T00:00', ['2104-02-29T00:00']],
    ['weekday names and ranges', '0 12 * * MON-FRI', '2024-05-10T13:00', ['2024-05-13T12:00', '2024-05-14T12:00']],
    [
      'both day fields restricted: either matches (Vixie)',
      '0 0 13 * FRI',
      '2024-09-01T00:00',
      ['2024-09-06T00:00', '2024-09-13T00:00', '2024-09-20T00:00', '2024-09-27T00:00', '2024-10-04T00:00', '2024-10-11T00:00', '2024-10-13T00:00'],
    ],
    ['a day field starting with * means both must match', '0 0 */2 * FRI', '2024-09-01T00:00', ['2024-09-13T00:00', '2024-09-27T00:00']],
    ['7 is Sunday too', '0 0 * * 7', '2024-09-01T00:00', ['2024-09-08T00:00', '2024-09-15T00:00']],
    ['a range with a step', '1-10/3 0 * * *', '2024-01-01T00:00', ['2024-01-01T00:01', '2024-01-01T00:04', '2024-01-01T00:07', '2024-01-01T00:10', '2024-01-02T00:01']],
    ['lists and hour ranges', '0,30 9-10 * * *', '2024-01-01T00:00', ['2024-01-01T09:00', '2024-01-01T09:30', '2024-01-01T10:00', '2024-01-01T10:30', '2024-01-02T09:00']],
    ['lower-case month names', '0 0 1 jan *', '2024-02-01T00:00', ['2025-01-01T00:00']],
    ['a step over a month-name range', '0 0 1 JAN-MAR/2 *', '2024-01-15T00:00', ['2024-03-01T00:00', '2025-01-01T00:00']],
    ['a restricted weekday rescues a day that never comes', '0 0 30 2 MON', '2024-01-31T00:00', ['2024-02-05T00:00']],
    ['@daily', '@daily', '2024-02-28T12:00', ['2024-02-29T00:00', '2024-03-01T00:00']],
    ['@hourly', '@hourly', '2024-02-28T12:00', ['2024-02-28T13:00']],
  ];
  for (const [behaviour, expr, after, expected] of cases) {
    test(`${behaviour}: '${expr}' after ${after}`, () => {
      assert.deepEqual(ticks(expr, after, expected.length), expected);
    });
  }

  test('a parsed schedule gives the same ticks as its text', () => {
    const schedule = parseCron('15 */6 * * *');
    assert.equal(nextTick(schedule, at('2024-01-01T06:20')), nextTick('15 */6 * * *', at('2024-01-01T06:20')));
    assert.equal(iso(nextTick(schedule, at('2024-01-01T06:20'))), '2024-01-01T12:15');
  });

  test('ticksBetween covers (from, to], oldest first, up to a limit', () => {
    const hourly = (from: string, to: string, limit?: number) => ticksBetween('0 * * * *', at(from), at(to), limit).map(iso);
    assert.deepEqual(hourly('2024-01-01T10:00', '2024-01-01T13:00'), ['2024-01-01T11:00', '2024-01-01T12:00', '2024-01-01T13:00']);
    assert.deepEqual(hourly('2024-01-01T10:00', '2024-01-01T13:00', 2), ['2024-01-01T11:00', '2024-01-01T12:00']);
    assert.deepEqual(hourly('2024-01-01T10:01', '2024-01-01T10:59'), []);
  });

  test('a non-finite start time is refused', () => {
    assert.throws(() => nextTick('* * * * *', Number.NaN), ValidationError);
  });
});

describe('cron: invalid expressions say what is wrong', () => {
  const cases: [string, string][] = [
    ['61 * * * *', 'minute must be 0-59'],
    ['* * *', 'expected 5 fields (minute hour day-of-month month day-of-week), got 3'],
    ['', 'expected 5 fields (minute hour day-of-month month day-of-week), got 0'],
    ['0 0 * * 0 extra', 'expected 5 fields (minute hour day-of-month month day-of-week), got 6'],
    ['0 24 * * *', 'hour must be 0-23'],
    ['0 0 0 * *', 'day-of-month must be 1-31'],
    ['0 0 * 13 *', 'month must be 1-12'],
    ['0 0 * * 8', 'day-of-week must be 0-7'],
    ['*/0 * * * *', "step '0' in minute must be a positive number"],
    ['5-1 * * * *', 'range 5-1 in minute is backwards'],
    ['x * * * *', "'x' is not a minute"],
    ['0 0 * FOO *', "'FOO' is not a month"],
    ['5/15 * * * *', "step '/15' needs '*' or a range before it"],
    ['1-2-3 * * * *', "'1-2-3' is not a minute, range or list"],
    ['*/5/2 * * * *', "'*/5/2' has more than one '/'"],
    ['0 0 30 2 *', 'it never fires (that day never occurs in the given months)'],
    ['0 0 31 4,6,9,11 *', 'it never fires (that day never occurs in the given months)'],
  ];
  for (const [expr, why] of cases) {
    test(`'${expr}': ${why}`, () => {
      assert.throws(
        () => parseCron(expr),
        (error: unknown) => error instanceof ValidationError && error.message === `invalid cron expression '${expr}': ${why}`,
      );
    });
  }
});
