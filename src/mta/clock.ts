// The queue's clock: wall time plus an offset that tests move forward (`roost queue advance-clock`), so
// retry schedules (Postfix's minimal/maximal_backoff_time) are exercised without waiting.
export interface Clock {
  now(): number;
}

export class AdjustableClock implements Clock {
  private offsetMs = 0;
  private readonly listeners = new Set<() => void>();

  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** Moves the clock forward and tells whoever schedules by it. */
  advance(ms: number): void {
    if (ms < 0) throw new Error('the queue clock only moves forward');
    this.offsetMs += ms;
    for (const listener of this.listeners) listener();
  }

  onAdvance(listener: () => void): void {
    this.listeners.add(listener);
  }
}
