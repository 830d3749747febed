/** The sample project distci builds in `distci up`: tiny, no dependencies. */
export function greet(name) {
  if (typeof name !== 'string' || name.trim() === '') throw new TypeError('greet() needs a name');
  return `Hello, ${name.trim()}!`;
}
