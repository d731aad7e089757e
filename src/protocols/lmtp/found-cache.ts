// Recipient lookups remembered for a moment (as Postfix's proxymap and Dovecot's auth cache do): a burst of mail
// for the same users costs one userdb lookup per user, not one per message. Only what was found is remembered, so a
// user added is found at once; a user removed or changed is seen within `ttlMs`.
export class FoundCache<T> {
  private readonly entries = new Map<string, { value: T; until: number }>();

  constructor(
    private readonly ttlMs = 1_000,
    private readonly maxEntries = 10_000,
  ) {}

  async get(key: string, lookup: () => Promise<T | null>): Promise<T | null> {
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && now < hit.until) return hit.value;
    const value = await lookup();
    if (value === null) this.entries.delete(key);
    else {
      if (this.entries.size >= this.maxEntries) this.entries.clear();
      this.entries.set(key, { value, until: now + this.ttlMs });
    }
    return value;
  }
}
