/** Light, dark, or the system's choice (the default); remembered in this browser. */
import { useEffect, useState } from 'preact/hooks';

type Theme = 'auto' | 'light' | 'dark';
const KEY = 'distci.theme';
const NEXT: Record<Theme, Theme> = { auto: 'light', light: 'dark', dark: 'auto' };
const LABEL: Record<Theme, string> = { auto: 'Theme: system', light: 'Theme: light', dark: 'Theme: dark' };

function stored(): Theme {
  const value = localStorage.getItem(KEY);
  return value === 'light' || value === 'dark' ? value : 'auto';
}

const system = (): MediaQueryList => window.matchMedia('(prefers-color-scheme: dark)');

/** Sets html[data-theme] to light or dark: the choice, or the system's scheme for `auto`. */
export function applyTheme(theme: Theme = stored()): void {
  document.documentElement.dataset.theme = theme === 'auto' ? (system().matches ? 'dark' : 'light') : theme;
}

/** Follows the system's scheme when it changes, unless the user chose one. */
export function followSystemTheme(): void {
  system().addEventListener('change', () => {
    if (stored() === 'auto') applyTheme('auto');
  });
}

export function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(stored);
  useEffect(() => {
    applyTheme(theme);
    if (theme === 'auto') localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, theme);
  }, [theme]);
  return (
    <button type="button" class="ghost" onClick={() => setTheme(NEXT[theme])} title="Switch between system, light and dark" data-testid="theme">
      {LABEL[theme]}
    </button>
  );
}
