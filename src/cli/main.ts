import { Command } from 'commander';
import { DistciError } from '../core/errors.js';
import { ConfigError } from '../config/settings.js';
import { auditCommand } from './commands/audit.js';
import { buildCommand } from './commands/builds.js';
import { frontendCommand } from './commands/frontend.js';
import { jobCommand } from './commands/jobs.js';
import { secretsCommand } from './commands/secrets.js';
import { ticketsCommand } from './commands/tickets.js';
import { upCommand } from './commands/up.js';
import { workerCommand } from './commands/worker.js';

const program = new Command('distci')
  .description('continuous integration with no active master')
  .version('0.1.0')
  .showHelpAfterError();

upCommand(program);
frontendCommand(program);
workerCommand(program);
jobCommand(program);
buildCommand(program);
ticketsCommand(program);
secretsCommand(program);
auditCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // A bad setting or a refused request is one clear line, not a stack trace.
  if (err instanceof ConfigError || err instanceof DistciError) {
    process.stderr.write(`distci: ${err instanceof DistciError ? `${err.code}: ` : ''}${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
