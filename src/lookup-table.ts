// Lookup tables indexed by names that come from files and command lines (layer classes, activations, commands):
// built without a prototype, so "constructor", "__proto__" or "toString" are unknown names like any other.

/** A frozen, prototype-less copy of `entries`: `in` and indexing see its own keys only. */
export function lookupTable<T>(entries: Record<string, T>): Readonly<Record<string, T>> {
  return Object.freeze(Object.assign(Object.create(null) as Record<string, T>, entries));
}
