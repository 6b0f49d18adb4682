// The part of jsfive (a pure-JavaScript HDF5 reader, shipped without types) that src/io/keras-h5/h5.ts uses.
// jsfive throws strings as well as Errors; every call into it is wrapped there.

declare module 'jsfive' {
  export class Group {
    /** Member names (links) of this group. */
    readonly keys: string[];
    /** Every attribute of the group, decoded. */
    readonly attrs: Record<string, unknown>;
    /** A member by name (`a/b` walks groups); null when a soft link leads nowhere. */
    get(name: string): Group | Dataset | null;
  }
  export class File extends Group {
    constructor(buffer: ArrayBuffer, filename?: string);
  }
  export class Dataset extends Array<unknown> {
    readonly shape: number[];
    /** numpy-style (`<f4`, `>i8`, `|S12`) for plain types; an array (`['VLEN_STRING', …]`) for the others. */
    readonly dtype: string | unknown[];
    readonly attrs: Record<string, unknown>;
    /** The data, flattened, as a plain array. */
    readonly value: unknown[];
    /** jsfive's internal object header reader: its filter pipeline (null when unfiltered) tells compression. */
    readonly _dataobjects: { readonly filter_pipeline: unknown[] | null };
  }
}
