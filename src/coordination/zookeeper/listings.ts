/**
 * Record directory listings. A record directory holds record leaves (`r<leaf>`) and deeper
 * directories (`d<segment>`); ZooKeeper has no paged listing, so a page of 50 of 10,000
 * jobs is a getChildren of all 10,000 names (~160 KB), decoded and sorted here — once: a
 * listing is kept while its watch says the directory's children are unchanged
 * (`WatchedReads.listing`).
 */
import { dec } from './layout.js';

/** A record directory's children, decoded and sorted: record leaves and deeper directories. */
export interface Listing {
  records: readonly string[];
  dirs: readonly string[];
}

/** `r<leaf>` and `d<segment>` names → their decoded parts, each list sorted. */
export function decodeListing(names: readonly string[]): Listing {
  const records: string[] = [];
  const dirs: string[] = [];
  for (const name of names) {
    if (name.startsWith('r')) records.push(dec(name.slice(1)));
    else if (name.startsWith('d')) dirs.push(dec(name.slice(1)));
  }
  return { records: records.sort(), dirs: dirs.sort() };
}
