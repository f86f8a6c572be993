// Entry point of dist/main.js; dist/proxy.js sits beside it.
import { run } from "./main.js";

await run(new URL("./proxy.js", import.meta.url));
