// The Node flags the server runs with under `npm start`; the benches start it the same way.
//
// --max-semi-space-size=4: the young generation of each thread's heap at most 2 × 4 MB. While the
// server loads, nearly everything it allocates survives, and V8 grows the young generation to its
// ceiling (2 × 16 MB by default) and keeps it: some 20 MB resident that a serving thread, whose
// garbage dies young, does not use. Measured in bench/README.md ("Memory and start-up").
export const SERVER_NODE_ARGS = ['--max-semi-space-size=4'];
