// Where commands print: injected so tests can capture output and the CLI can use the terminal.

export interface CommandIO {
  /** Results: the table, the JSON. */
  out(text: string): void;
  /** Notes and progress, kept off stdout so that `--json` output stays parseable. */
  err(text: string): void;
  /** Whether stderr is a terminal (progress bars) or a pipe (plain lines). */
  isTTY: boolean;
}

export const processIO: CommandIO = {
  out: (text) => process.stdout.write(text + '\n'),
  err: (text) => process.stderr.write(text + '\n'),
  isTTY: Boolean(process.stderr.isTTY),
};

/** Notes from loading a model (what was inferred, assumed or replaced), one line each on stderr. */
export function printNotes(io: CommandIO, notes: readonly string[]): void {
  for (const note of notes) io.err(`note: ${note}`);
}
