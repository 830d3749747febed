import { request } from 'undici';
import { eventually } from './wait.js';

/** Reads one un-labelled metric value from a frontend's /metrics. */
export async function metricValue(url: string, name: string): Promise<number> {
  const res = await request(`${url}/metrics`);
  const text = await res.body.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`metric ${name} not found at ${url}/metrics`);
  return Number(line.split(' ')[1]);
}

/** Waits until `parked` claim long polls are waiting on the frontend at `url`. */
export async function untilParked(url: string, parked: number): Promise<void> {
  await eventually(async () => {
    const value = await metricValue(url, 'distci_claims_parked');
    if (value !== parked) throw new Error(`${value} claims parked at ${url}, want ${parked}`);
  }, 10_000, 2);
}
