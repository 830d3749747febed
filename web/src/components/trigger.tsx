/** Trigger a build; a job with parameters asks for them first (defaults filled in). */
import { useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { href, navigate } from '../lib/router.js';
import type { JobRecord } from '../lib/types.js';

export function TriggerButton({ job }: { job: JobRecord }) {
  const parameters = Object.entries(job.config.parameters);
  const [open, setOpen] = useState(false);
  const [values, setValues] = useState<Record<string, string>>(() => Object.fromEntries(parameters.map(([name, p]) => [name, p.default ?? ''])));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const trigger = async (given: Record<string, string>): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      const build = await api.trigger(job.id, given);
      navigate(href.build(job.id, build.number));
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setBusy(false);
    }
  };

  if (parameters.length === 0) {
    return (
      <div class="actions">
        <button type="button" class="primary" disabled={busy} onClick={() => void trigger({})} data-testid="trigger">
          {busy ? 'Starting…' : 'Build now'}
        </button>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </div>
    );
  }
  return (
    <div class="actions">
      <button type="button" class="primary" aria-expanded={open} aria-controls="trigger-form" onClick={() => setOpen(!open)} data-testid="trigger">
        Build with parameters…
      </button>
      {open && (
        <form
          id="trigger-form"
          class="popover"
          onSubmit={(e) => {
            e.preventDefault();
            void trigger(values);
          }}
        >
          {parameters.map(([name, p]) => (
            <div class="field" key={name}>
              <label for={`param-${name}`}>{name}</label>
              <input
                id={`param-${name}`}
                name={name}
                value={values[name] ?? ''}
                required={p.default === undefined}
                aria-describedby={p.description ? `param-${name}-help` : undefined}
                onInput={(e) => setValues({ ...values, [name]: e.currentTarget.value })}
              />
              {p.description && (
                <small id={`param-${name}-help`} class="muted">
                  {p.description}
                </small>
              )}
            </div>
          ))}
          {error && (
            <p class="error" role="alert">
              {error}
            </p>
          )}
          <div class="row">
            <button type="submit" class="primary" disabled={busy}>
              {busy ? 'Starting…' : 'Build'}
            </button>
            <button type="button" onClick={() => setOpen(false)}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </div>
  );
}
