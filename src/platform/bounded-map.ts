/**
 * A Map that holds at most `max` entries, forgetting the least recently used first. For the per-instance caches keyed
 * by tenant, host or key: emptying such a cache when it fills (as they did) turns the 10,001st tenant into a cold
 * start for all of them at once. `get` counts as a use (the entry moves to the young end; Map keeps insertion order).
 */
export class BoundedMap<K, V> {
  readonly #entries = new Map<K, V>();
  readonly max: number;

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) throw new Error('BoundedMap: max must be a positive integer');
    this.max = max;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): this {
    this.#entries.delete(key);
    this.#entries.set(key, value);
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
