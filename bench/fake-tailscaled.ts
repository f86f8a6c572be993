// The tests' fake tailscaled LocalAPI in a process of its own, so the gateway's WhoIs calls cross a real unix socket
// to another process, as they do to tailscaled. The bench client connects from 127.0.0.1, which the fake knows as a
// tagged CI node (as tailscaled in userspace-networking mode registers the peers it forwards).
import { startFakeTailscaled } from "../test/fakes/tailscaled.js";

const fake = await startFakeTailscaled({ "127.0.0.1": { tags: ["tag:ci"], nodeId: "nBENCH", name: "bench-runner.tail1234.ts.net." } });
process.stdout.write(`socket ${fake.socketPath}\n`);
// SIGUSR2: how many WhoIs lookups so far (the bench checks they follow connections, not requests).
process.on("SIGUSR2", () => process.stdout.write(`whois ${fake.lookups.length}\n`));
process.on("SIGTERM", () => void fake.close().then(() => process.exit(0)));
