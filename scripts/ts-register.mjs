// `node --import ./scripts/ts-register.mjs file.ts`: runs the repository's TypeScript (see ts-hooks.mjs).
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
process.setSourceMapsEnabled(true);
