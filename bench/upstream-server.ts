// A minimal, fast fake Anthropic upstream for benchmarks (plain node:http, so the fake is never the bottleneck).
// Usage: tsx bench/upstream-server.ts  → prints "listening <port>" on stdout.
import http from "node:http";

const message = JSON.stringify({
  id: "msg_bench",
  type: "message",
  role: "assistant",
  model: "claude-sonnet-4-6",
  // A tool call, so the gateway's tool-call extraction and shell analysis run on every answer, as for an agent.
  content: [
    { type: "text", text: "Listing the files." },
    { type: "tool_use", id: "toolu_bench", name: "Bash", input: { command: "ls -la src && git status --short" } },
  ],
  stop_reason: "tool_use",
  stop_sequence: null,
  usage: { input_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 5 },
});

const events = [
  `event: message_start\ndata: {"type":"message_start","message":{"id":"msg_bench","type":"message","role":"assistant","model":"claude-sonnet-4-6","content":[],"stop_reason":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}\n\n`,
  `event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n`,
  ...Array.from({ length: 8 }, (_, i) => `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"tok${i} "}}\n\n`),
  `event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n`,
  `event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":9}}\n\n`,
  `event: message_stop\ndata: {"type":"message_stop"}\n\n`,
];
const EVENT_GAP_MS = Number(process.env.EVENT_GAP_MS ?? 2);
/** Time the fake "model" takes before it answers, like a real provider's time to first token. */
const DELAY_MS = Number(process.env.DELAY_MS ?? 0);

/** Text deltas, `bytes` of them in all, written as fast as the client takes them, for memory-flatness checks. */
function longStream(res: http.ServerResponse, bytes: number): void {
  let i = 0;
  let written = 0;
  const delta = (k: number) => `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"token ${k} of a long answer "}}\n\n`;
  res.write(events[0]);
  res.write(events[1]);
  const pump = () => {
    while (written < bytes) {
      const event = delta(i++);
      written += event.length;
      if (!res.write(event)) return void res.once("drain", pump);
    }
    res.end(events.slice(-3).join(""));
  };
  pump();
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => (DELAY_MS > 0 ? setTimeout(answer, DELAY_MS) : answer()));
  const answer = () => {
    const streaming = Buffer.concat(chunks).includes('"stream":true');
    if (!streaming) {
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(message) });
      res.end(message);
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const long = /"long_stream_bytes":(\d+)/.exec(Buffer.concat(chunks).toString());
    if (long) return longStream(res, Number(long[1]));
    let i = 0;
    const next = () => {
      res.write(events[i++]);
      if (i < events.length) setTimeout(next, EVENT_GAP_MS);
      else res.end();
    };
    next();
  };
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`);
});
