// The `listen` address: HOST:PORT, IPv6 hosts in brackets, an empty host meaning loopback.
export function parseListen(listen: string): { hostname: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen);
  if (!m) throw new Error(`listen address "${listen}" is not HOST:PORT`);
  return { hostname: m[1] ?? (m[2] || "127.0.0.1"), port: Number(m[3]) };
}
