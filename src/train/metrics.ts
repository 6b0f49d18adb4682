// Classification metrics accumulated over an evaluation: mean loss, top-1 and top-5 accuracy,
// per-class accuracy and the confusion matrix (rows: true class, columns: predicted).

export interface EvaluationMetrics {
  loss: number;
  top1: number;
  top5: number;
  images: number;
  perClass: number[];
  confusion: number[][];
}

export class MetricsAccumulator {
  private lossSum = 0;
  private correct1 = 0;
  private correct5 = 0;
  private count = 0;
  private readonly confusion: number[][];

  constructor(readonly classes: number) {
    this.confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  }

  /** Adds a batch: logits [N, classes] row-major, the true labels, and the batch's summed loss. */
  add(logits: Float32Array, labels: ArrayLike<number>, lossSum: number): void {
    const k = this.classes;
    for (let n = 0; n < labels.length; n++) {
      const row = logits.subarray(n * k, (n + 1) * k);
      const label = labels[n];
      let best = 0;
      let above = 0; // classes scoring strictly higher than the true one
      for (let c = 0; c < k; c++) {
        if (row[c] > row[best]) best = c;
        if (row[c] > row[label]) above++;
      }
      if (best === label) this.correct1++;
      if (above < 5) this.correct5++;
      this.confusion[label][best]++;
    }
    this.count += labels.length;
    this.lossSum += lossSum;
  }

  result(): EvaluationMetrics {
    const n = Math.max(1, this.count);
    return {
      loss: this.lossSum / n,
      top1: this.correct1 / n,
      top5: this.correct5 / n,
      images: this.count,
      perClass: this.confusion.map((row, c) => {
        const total = row.reduce((a, b) => a + b, 0);
        return total === 0 ? 0 : row[c] / total;
      }),
      confusion: this.confusion.map((row) => [...row]),
    };
  }
}
