// The Node flags the server runs with under `npm start`; the benches start it the same way.
//
// --max-semi-space-size=4: the HTTP thread's young generation in semi-spaces of 4 MB. While the
// server loads, nearly everything it allocates survives, and V8 grows the semi-spaces to their
// ceiling (16 MB by default) and keeps them: some 20 MB resident that a serving thread, whose
// garbage dies young, does not use. The database thread keeps the default (db/pglite-thread.ts).
// Measured in bench/README.md ("Memory and start-up").
export const SERVER_NODE_ARGS = ['--max-semi-space-size=4'];
