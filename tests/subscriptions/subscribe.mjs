// graphql-ws's client (the reference implementation of graphql-transport-ws) subscribing to the service.
//
//   node subscribe.mjs '{"url": "ws://…/graphql", "token": "…" | null, "subscriptions": [{"query": "…", "variables": {}}]}'
//
// Every event is one JSON line on stdout, stamped with the wall clock in milliseconds ("at"):
//   {"event": "connected"}                          connection_ack received
//   {"event": "next", "sub": i, "payload": {…}}     a result of subscription i
//   {"event": "error", "sub": i, "errors": […]}     subscription i failed (its errors, or a close event)
//   {"event": "complete", "sub": i}                 subscription i ended
//   {"event": "closed", "code": n, "reason": "…"}   the socket closed
// The process exits once the socket has closed, or when its standard input closes (the test is done).
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const config = JSON.parse(process.argv[2]);
const emit = (line) => process.stdout.write(JSON.stringify({ ...line, at: Date.now() }) + "\n");

const client = createClient({
  url: config.url,
  webSocketImpl: WebSocket,
  connectionParams: config.token === null ? {} : { Authorization: `Bearer ${config.token}` },
  retryAttempts: 0,
  lazy: false,
  on: {
    connected: () => emit({ event: "connected" }),
    closed: (event) => {
      emit({ event: "closed", code: event.code, reason: event.reason });
      process.exit(0);
    },
  },
});

config.subscriptions.forEach((operation, sub) => {
  client.subscribe(operation, {
    next: (payload) => emit({ event: "next", sub, payload }),
    error: (error) => {
      const errors = Array.isArray(error) ? error : [{ message: String(error?.reason ?? error), code: error?.code }];
      emit({ event: "error", sub, errors });
    },
    complete: () => emit({ event: "complete", sub }),
  });
});

process.stdin.on("end", () => {
  client.dispose();
  process.exit(0);
});
process.stdin.resume();
