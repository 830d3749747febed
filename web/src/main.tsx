/** The distci web UI: one page app on hash routes, reading only the public API. */
import { render } from 'preact';
import { App } from './app.js';
import { applyTheme, followSystemTheme } from './components/theme.js';

applyTheme(); // before the first paint: no flash of the other theme
followSystemTheme();
const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(<App />, root);
}
