// The Node flags the server runs with under `npm start`; the benches start it the same way. None
// today.
//
// The young generation keeps V8's default ceiling (two 16 MB semi-spaces). Capped at 4 MB, a
// cold personal-token request and the token endpoint's HTTP thread cost about a third more CPU
// (scavenges four times as often, each copying the objects a request keeps across its database
// round trip), and a restarted server held no less memory. Measured in bench/README.md
// ("Memory and start-up").
export const SERVER_NODE_ARGS = [];
