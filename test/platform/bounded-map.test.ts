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
