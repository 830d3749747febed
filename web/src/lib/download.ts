/**
 * Downloads that work when signed in: a plain link cannot carry the bearer token, so with
 * a token the file is fetched and handed to the browser as a blob.
 */
import { authHeaders, storedToken } from './api.js';

export async function download(url: string, filename: string): Promise<void> {
  const res = await fetch(url, { headers: authHeaders() });
  if (!res.ok) throw new Error(`download failed: HTTP ${res.status}`);
  const blob = await res.blob();
  const objectUrl = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = objectUrl;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(objectUrl), 60_000);
}

/** Click handler for a download link: without a token the link works as it is. */
export function onDownloadClick(url: string, filename: string, onError: (message: string) => void) {
  return (event: MouseEvent): void => {
    if (!storedToken()) return;
    event.preventDefault();
    download(url, filename).catch((err: unknown) => onError(err instanceof Error ? err.message : String(err)));
  };
}
