#!/usr/bin/env node
// Entry point for `npx marillc`: registers the TypeScript loader (tsx) so the
// sources run as they are, with no build step, then hands over to the CLI.
import { register } from 'tsx/esm/api';

register();
await import('../compiler/cli/main.ts');
