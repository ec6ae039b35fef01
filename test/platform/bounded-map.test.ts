/** The per-instance caches' bound: least recently used first, never everything at once. */
import { expect, it } from 'vitest';
import { BoundedMap } from '../../src/platform/bounded-map.ts';

it('forgets the least recently used entry when full; a read counts as a use; nothing else is dropped', () => {
  const m = new BoundedMap<string, number>(3);
  m.set('a', 1).set('b', 2).set('c', 3);
  expect(m.get('a')).toBe(1);
  m.set('d', 4);
  expect([...m.keys()]).toEqual(['c', 'a', 'd']);
  expect(m.get('b')).toBeUndefined();
  m.set('c', 30);
  m.set('e', 5);
  expect([...m.keys()]).toEqual(['d', 'c', 'e']);
  expect(m.size).toBe(3);
  expect(() => new BoundedMap(0)).toThrow();
});

it('a read moves an entry only from the older half: a hot entry is never evicted, a recent one is not reordered', () => {
  const m = new BoundedMap<string, number>(4);
  m.set('hot', 0);
  for (let i = 0; i < 100; i++) {
    expect(m.get('hot')).toBe(0);
    m.set(`k${i}`, i);
  }
  expect(m.get('hot')).toBe(0);
  expect(m.size).toBe(4);
  // 'k99' is the youngest: reading it changes nothing; 'hot' (moved recently) stays where it is too.
  const before = [...m.keys()];
  m.get('k99');
  expect([...m.keys()]).toEqual(before);
});
