#!/usr/bin/env node
// Node 24 strips TypeScript types natively, so the CLI runs from source with no build step.
await import('../src/cli/main.ts');
