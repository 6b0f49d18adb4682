// The test reporter `npm test` uses: node's spec reporter, with totals that count whole suites skipped (node counts
// only tests, so a suite skipped for a missing peer showed as "skipped 0") and a list of every skip's reason.
// Plain JavaScript: node loads reporters before `--import tsx` can translate TypeScript.

import { Transform } from 'node:stream';
import { spec } from 'node:test/reporters';

/** A summary line as the spec reporter prints it. */
function diagnostic(message) {
  return { type: 'test:diagnostic', data: { message, nesting: 0 } };
}

export default class HonestTotals extends Transform {
  spec = new spec();
  /** Reason → how many skips gave it. */
  reasons = new Map();
  skippedSuites = 0;

  constructor() {
    super({ writableObjectMode: true });
    this.spec.on('data', (chunk) => this.push(chunk));
  }

  _transform(event, _encoding, done) {
    for (const out of this.adjust(event)) this.spec.write(out);
    done();
  }

  _flush(done) {
    this.spec.once('end', () => done());
    this.spec.end();
  }

  *adjust(event) {
    if (event.type === 'test:pass' && event.data.skip !== undefined && event.data.skip !== false) {
      const reason = typeof event.data.skip === 'string' ? event.data.skip : 'no reason given';
      this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1);
      if (event.data.details?.type === 'suite') this.skippedSuites += 1;
    }
    const skipped = event.type === 'test:diagnostic' && event.data.nesting === 0 ? /^skipped (\d+)$/.exec(event.data.message) : null;
    if (!skipped) {
      yield event;
      return;
    }
    const tests = Number(skipped[1]);
    const suites = this.skippedSuites;
    const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
    yield diagnostic(suites === 0 ? `skipped ${tests}` : `skipped ${tests + suites} (${plural(tests, 'test')}, ${plural(suites, 'whole suite')} whose tests are not counted above)`);
    for (const [reason, count] of [...this.reasons].sort((a, b) => b[1] - a[1])) yield diagnostic(`  ${count}× ${reason}`);
  }
}
