// Entry point of dist/proxy.js: `node proxy.js --target <gateway> --ready-file <path>`, started detached by main.
import { renameSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { createForwarder } from "./proxy.js";

const { values } = parseArgs({ options: { target: { type: "string" }, "ready-file": { type: "string" }, port: { type: "string", default: "0" } } });
if (!values.target || !values["ready-file"]) {
  console.error("usage: node proxy.js --target <url> --ready-file <path> [--port <n>]");
  process.exit(2);
}
const readyFile = values["ready-file"];
const server = createForwarder(values.target);
server.listen(Number(values.port), "127.0.0.1", () => {
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("unexpected listen address");
  // Written then renamed, so the waiting step never reads half a file.
  writeFileSync(`${readyFile}.tmp`, String(address.port));
  renameSync(`${readyFile}.tmp`, readyFile);
  console.log(`keyless proxy: 127.0.0.1:${address.port} -> ${values.target}`);
});
const stop = () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
