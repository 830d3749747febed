/**
 * Hash routes (`#/jobs/hello/builds/3`), so every page is a plain static file to the
 * server and a link or reload lands on the same page.
 */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'jobs'; q: string; after: string | null }
  | { page: 'job'; job: string; tab: 'builds' | 'config' | 'edit' }
  | { page: 'build'; job: string; number: number; step: string | null }
  | { page: 'queue' }
  | { page: 'signin' }
  | { page: 'notfound'; path: string };

export function parseRoute(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0 || (parts[0] === 'jobs' && parts.length === 1)) {
    return { page: 'jobs', q: params.get('q') ?? '', after: params.get('after') };
  }
  if (parts[0] === 'jobs' && parts[1]) {
    if (parts.length === 2) return { page: 'job', job: parts[1], tab: 'builds' };
    if (parts.length === 3 && (parts[2] === 'config' || parts[2] === 'edit')) return { page: 'job', job: parts[1], tab: parts[2] };
    if (parts[2] === 'builds' && /^[1-9][0-9]*$/.test(parts[3] ?? '')) {
      return { page: 'build', job: parts[1], number: Number(parts[3]), step: params.get('step') };
    }
  }
  if (parts[0] === 'queue' && parts.length === 1) return { page: 'queue' };
  if (parts[0] === 'signin' && parts.length === 1) return { page: 'signin' };
  return { page: 'notfound', path };
}

const enc = encodeURIComponent;

export const href = {
  jobs: (q = '', after: string | null = null): string => {
    const params = new URLSearchParams();
    if (q) params.set('q', q);
    if (after) params.set('after', after);
    const s = params.toString();
    return `#/jobs${s ? `?${s}` : ''}`;
  },
  job: (job: string, tab: 'builds' | 'config' | 'edit' = 'builds'): string => `#/jobs/${enc(job)}${tab === 'builds' ? '' : `/${tab}`}`,
  build: (job: string, n: number, step?: string | null): string => `#/jobs/${enc(job)}/builds/${n}${step ? `?step=${enc(step)}` : ''}`,
  queue: (): string => '#/queue',
  signin: (): string => '#/signin',
};

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = (): void => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}
