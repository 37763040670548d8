// Process entry of the `marillc` command (bin/marillc.js loads this).
import { main } from './cli.ts';

process.exitCode = await main(process.argv.slice(2));
