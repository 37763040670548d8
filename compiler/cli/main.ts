// Process entry of the `marillc` command (bin/marillc.js loads this).
import { main } from './cli.ts';

// A reader that stops early (`marillc ... --emit plan | head`) closes the pipe: the output it wanted is
// out, so the command ends quietly instead of dying on an unhandled EPIPE with a stack trace.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });

const code = await main(process.argv.slice(2));
process.exitCode = code;
// A finished command must not linger on a socket or timer some library left
// open; output to pipes and files is already flushed (synchronous on POSIX).
setTimeout(() => process.exit(code), 100).unref();
