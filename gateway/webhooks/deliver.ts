// Delivers the outbox's webhook messages: due ones are claimed (store/outbox.ts: one replica per message at a time) and
// sent with a bounded concurrency; a failure is retried after the outbox's backoff (the hook's retry.initial doubling
// to retry.max, with jitter) until it is older than the hook's give_up_after, then kept as a dead letter. Runs off the
// response path entirely.
import type { HooksConfig } from "../config/hooks.js";
import type { Outbox, OutboxItem } from "../store/outbox.js";
import { sendHook } from "./send.js";

export interface DelivererDeps {
  readonly outbox: Outbox;
  readonly hooks: () => HooksConfig;
  readonly fetch: typeof fetch;
  readonly userAgent: string;
  readonly onError: (err: unknown, context: string) => void;
  readonly concurrency?: number;
  /** Longest sleep between outbox scans when nothing is due sooner. */
  readonly pollMs?: number;
  readonly now?: () => number;
  readonly random?: () => number;
  /** How long a claim holds; longer than any hook's timeout, so a live delivery is never taken over. */
  readonly leaseMs?: number;
}

export class HookDeliverer {
  private readonly inFlight = new Map<number, Promise<void>>();
  private scanning: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private rescan = false;
  private stopped = true;
  /** Set once stop() returned: the store may be closed, late replies must not touch it. */
  private closed = false;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly concurrency: number;
  private readonly pollMs: number;
  private readonly leaseMs: number;

  constructor(private readonly deps: DelivererDeps) {
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.concurrency = deps.concurrency ?? 8;
    this.pollMs = deps.pollMs ?? 5000;
    this.leaseMs = deps.leaseMs ?? 60_000;
  }

  start(): void {
    this.stopped = false;
    this.kick();
  }

  /** Looks at the outbox now (new messages were written, or a delivery finished). */
  kick(): void {
    if (this.stopped) return;
    if (this.scanning) {
      this.rescan = true;
      return;
    }
    this.scanning = (async () => {
      try {
        do {
          this.rescan = false;
          await this.scan();
        } while (this.rescan && !this.stopped);
      } catch (err) {
        this.deps.onError(err, "hook outbox scan");
      }
      await this.schedule();
    })().finally(() => (this.scanning = null));
  }

  /** Stops scanning and waits (up to `graceMs`) for deliveries in flight; undelivered messages stay in the outbox. */
  async stop(graceMs = 2000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.scanning;
    if (this.timer) clearTimeout(this.timer);
    const pending = Promise.all([...this.inFlight.values()]);
    await Promise.race([pending, new Promise((r) => setTimeout(r, graceMs).unref())]);
    this.closed = true;
  }

  private async scan(): Promise<void> {
    const room = this.concurrency - this.inFlight.size;
    if (room <= 0) return;
    for (const row of await this.deps.outbox.claim("webhook", this.now(), room, this.leaseMs)) {
      const job = this.deliver(row)
        .catch((err) => this.deps.onError(err, `hook ${row.hook ?? "?"} delivery`))
        .finally(() => {
          this.inFlight.delete(row.id);
          if (!this.closed) this.kick();
        });
      this.inFlight.set(row.id, job);
    }
  }

  /** Sleeps until the next message is due (at most pollMs; a store that cannot be read is asked again then). */
  private async schedule(): Promise<void> {
    if (this.stopped) return;
    const next = await this.deps.outbox.nextDue("webhook").catch(() => null);
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const wait = next === null ? this.pollMs : Math.min(this.pollMs, Math.max(25, next - this.now()));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.kick();
    }, wait);
    this.timer.unref();
  }

  private async deliver(row: OutboxItem): Promise<void> {
    const { outbox } = this.deps;
    const hook = row.hook === null ? undefined : this.deps.hooks()[row.hook];
    if (!hook || hook.disabled) {
      const reason = `hook "${row.hook ?? ""}" is ${hook ? "disabled" : "no longer configured"}`;
      await outbox.dead("webhook", row.key, this.now(), { attempted: false, status: null, error: reason });
      this.deps.onError(new Error(reason), `dead letter: ${row.event ?? ""} event ${row.key}`);
      return;
    }
    const result = await sendHook(hook, row.key, row.payload, { ...this.deps, attempt: row.attempts + 1 });
    if (this.closed) return;
    if (result.ok) {
      await outbox.done("webhook", row.key);
      return;
    }
    const now = this.now();
    const failure = { status: result.status, error: result.error ?? "failed" };
    if (now - row.createdAt >= hook.retry.give_up_after) {
      await outbox.dead("webhook", row.key, now, { ...failure, attempted: true });
      this.deps.onError(new Error(result.error), `hook ${row.hook ?? ""}: gave up on ${row.event ?? ""} event ${row.key} after ${row.attempts + 1} attempts (dead letter)`);
      return;
    }
    await outbox.retry(row, now, { baseMs: hook.retry.initial, maxMs: hook.retry.max }, failure, this.random);
  }
}
