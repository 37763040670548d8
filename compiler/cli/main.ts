// Process entry of the `marillc` command (bin/marillc.js loads this).
import { main } from './cli.ts';

const code = await main(process.argv.slice(2));
process.exitCode = code;
// A finished command must not linger on a socket or timer some library left
// open; output to pipes and files is already flushed (synchronous on POSIX).
setTimeout(() => process.exit(code), 100).unref();
