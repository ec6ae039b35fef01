/**
 * A Map that holds at most `max` entries, forgetting the least recently used first. For the per-instance caches keyed
 * by tenant, host or key: emptying such a cache when it fills (as they did) turns the 10,001st tenant into a cold
 * start for all of them at once.
 *
 * Recency is kept by insertion order (Map's), and a `get` moves an entry to the young end only when it is in the
 * older half, i.e. more than ⌈max/2⌉ insertions or moves ago. A hot entry is then a plain Map lookup (the token
 * path reads several of these per request; a delete and re-insert on every read cost ~3 % of its CPU and left the
 * Map to rehash its tombstones), while what is evicted is still an entry nobody read in the last half of the map.
 */
interface Slot<V> {
  value: V;
  /** When it was inserted or last moved (`#tick`). */
  at: number;
}

export class BoundedMap<K, V> {
  readonly #entries = new Map<K, Slot<V>>();
  readonly max: number;
  readonly #half: number;
  #tick = 0;

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) throw new Error('BoundedMap: max must be a positive integer');
    this.max = max;
    this.#half = Math.ceil(max / 2);
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: K): V | undefined {
    const slot = this.#entries.get(key);
    if (slot === undefined) return undefined;
    if (slot.at <= this.#tick - this.#half) {
      this.#entries.delete(key);
      slot.at = ++this.#tick;
      this.#entries.set(key, slot);
    }
    return slot.value;
  }

  set(key: K, value: V): this {
    this.#entries.delete(key);
    this.#entries.set(key, { value, at: ++this.#tick });
    if (this.#entries.size > this.max) this.#entries.delete(this.#entries.keys().next().value as K);
    return this;
  }

  delete(key: K): boolean {
    return this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  keys(): IterableIterator<K> {
    return this.#entries.keys();
  }
}
