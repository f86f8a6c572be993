import { createRequire as __keylessCreateRequire } from "node:module";
const require = __keylessCreateRequire(import.meta.url);
import {
  createForwarder
} from "./chunks/chunk-43Z4EIJG.js";

// action/proxy-index.ts
import { renameSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
var { values } = parseArgs({ options: { target: { type: "string" }, "ready-file": { type: "string" }, port: { type: "string", default: "0" } } });
if (!values.target || !values["ready-file"]) {
  console.error("usage: node proxy.js --target <url> --ready-file <path> [--port <n>]");
  process.exit(2);
}
var readyFile = values["ready-file"];
var server = createForwarder(values.target);
server.listen(Number(values.port), "127.0.0.1", () => {
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("unexpected listen address");
  writeFileSync(`${readyFile}.tmp`, String(address.port));
  renameSync(`${readyFile}.tmp`, readyFile);
  console.log(`keyless proxy: 127.0.0.1:${address.port} -> ${values.target}`);
});
var stop = () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
