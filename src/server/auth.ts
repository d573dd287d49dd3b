import { timingSafeEqual, createHash } from 'node:crypto';

/** Compares two secrets in time independent of where they differ (and of their lengths' relation). */
export function secretsEqual(given: string, expected: string): boolean {
  // hash both so the compare is always over equal-length buffers
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Slows down password guessing: after each failure from a peer (its address), that peer's next
 * attempt is delayed, doubling up to `maxDelayMs`; a success forgets the peer. Memory is bounded.
 */
export class AuthThrottle {
  private readonly failures = new Map<string, { count: number; last: number }>();

  constructor(private readonly baseDelayMs = 50, private readonly maxDelayMs = 5_000, private readonly maxPeers = 10_000) {}

  /** How long to wait before checking this peer's credentials (ms). */
  delayFor(peer: string): number {
    const entry = this.failures.get(peer);
    if (!entry) return 0;
    return Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(entry.count - 1, 16));
  }

  /** Waits as long as {@link delayFor} says. */
  async wait(peer: string): Promise<void> {
    const ms = this.delayFor(peer);
    if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms).unref());
  }

  fail(peer: string): void {
    const entry = this.failures.get(peer) ?? { count: 0, last: 0 };
    entry.count++;
    entry.last = Date.now();
    this.failures.delete(peer);
    this.failures.set(peer, entry);
    if (this.failures.size > this.maxPeers) this.failures.delete(this.failures.keys().next().value!);
  }

  succeed(peer: string): void {
    this.failures.delete(peer);
  }
}
