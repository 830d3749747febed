/**
 * `npm run bench -- NAME [--coordinator URL] [--json FILE] [flags of NAME]`
 *
 * A small registry of benchmarks: each name maps to a module exporting `run(args)`.
 * Progress goes to stderr, the result table to stdout, and `--json FILE` writes the raw
 * results. Every benchmark stops the processes it started and removes its temp dirs,
 * also on error or Ctrl-C.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Cleanup, formatMarkdown, formatTable, machineInfo, UsageError, type BenchModule, type OptionSpec } from './common.js';

/** name → loader. */
const BENCHMARKS: Record<string, () => Promise<BenchModule>> = {
  dispatch: async () => (await import('./dispatch/index.js')).dispatch,
  e2e: async () => (await import('./e2e.js')).e2e,
  scale: async () => (await import('./scale/index.js')).scale,
  store: async () => (await import('./store.js')).store,
};

const COMMON: Record<string, OptionSpec> = {
  coordinator: { type: 'string', arg: 'url', help: 'coordinator URL (default: a fresh sqlite: file in a temp dir)' },
  json: { type: 'string', arg: 'file', help: 'also write the results as JSON to this file' },
  markdown: { type: 'boolean', help: 'also print the table as Markdown (for BENCHMARKS.md)' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
};

/** Default hard limit on one run, so a hung benchmark never outlives its welcome. */
const RUN_LIMIT_MS = 120_000;

function usage(name?: string, mod?: BenchModule): string {
  const known = Object.keys(BENCHMARKS).join(', ');
  const flags = (opts: Record<string, OptionSpec>): string[] =>
    Object.entries(opts).map(([flag, spec]) => `  --${flag}${spec.type === 'string' ? ` <${spec.arg ?? 'value'}>` : ''}`.padEnd(30) + spec.help);
  const lines = [`usage: npm run bench -- ${name ?? '<name>'} [flags]`, `benchmarks: ${known}`, '', 'common flags:', ...flags(COMMON)];
  if (mod) lines.push('', `${name}: ${mod.summary}`, ...flags(mod.options));
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const name = argv[0];
  if (name === undefined || name.startsWith('-')) {
    process.stderr.write(`${usage()}\n`);
    return name === '--help' || name === '-h' ? 0 : 2;
  }
  const load = BENCHMARKS[name];
  if (!load) {
    process.stderr.write(`unknown benchmark '${name}'; known benchmarks: ${Object.keys(BENCHMARKS).join(', ')}\n`);
    return 2;
  }
  const mod = await load();
  const clash = Object.keys(mod.options).find((k) => k in COMMON);
  if (clash) throw new Error(`benchmark ${name} redefines the common flag --${clash}`);

  let values: Record<string, string | boolean | undefined>;
  try {
    const parsed = parseArgs({
      args: argv.slice(1),
      options: Object.fromEntries(
        Object.entries({ ...COMMON, ...mod.options }).map(([k, { help: _help, arg: _arg, ...spec }]) => [k, spec]),
      ),
      strict: true,
      allowPositionals: false,
    });
    values = parsed.values as Record<string, string | boolean | undefined>;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${usage(name, mod)}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${usage(name, mod)}\n`);
    return 0;
  }

  const cleanup = new Cleanup();
  const onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\n${signal}: stopping the processes this benchmark started…\n`);
    void cleanup.run().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const limitMs = mod.timeLimitMs ?? RUN_LIMIT_MS;
  const limit = setTimeout(() => {
    process.stderr.write(`benchmark ${name} exceeded ${limitMs / 1000} s; stopping everything it started\n`);
    void cleanup.run().finally(() => process.exit(1));
  }, limitMs);
  limit.unref();

  const started = performance.now();
  const before = machineInfo();
  try {
    const options = Object.fromEntries(Object.keys(mod.options).map((k) => [k, values[k]]));
    const result = await mod.run({
      coordinator: values.coordinator as string | undefined,
      options,
      cleanup,
      log: (line) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}\n`),
    });
    const machine = { ...machineInfo(), loadAverageAtStart: before.loadAverage };
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(`\n${formatTable(result)}\n`);
    process.stdout.write(
      `\nmachine: ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.ramGiB} GiB RAM, Node ${machine.node}; ` +
        `commit ${machine.commit}; load average at start ${before.loadAverage.join(' ')}; run took ${seconds.toFixed(1)} s\n`,
    );
    if (values.markdown) process.stdout.write(`\n${formatMarkdown(result)}\n`);
    if (typeof values.json === 'string') {
      const command = `node dist/bench/main.js ${argv.join(' ')}`;
      writeFileSync(values.json, `${JSON.stringify({ ...result, machine, command, seconds }, null, 2)}\n`);
      process.stderr.write(`results written to ${values.json}\n`);
    }
    return 0;
  } finally {
    await cleanup.run();
    clearTimeout(limit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
