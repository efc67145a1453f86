/** A growable Float64Array: appends without copying the whole column each time (capacity doubles). */
export class Column {
  private data: Float64Array;
  length = 0;

  constructor(capacity = 64) {
    this.data = new Float64Array(capacity);
  }

  append(add: ArrayLike<number>): void {
    const need = this.length + add.length;
    if (need > this.data.length) {
      const grown = new Float64Array(Math.max(need, this.data.length * 2));
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
    this.data.set(add, this.length);
    this.length = need;
  }

  /** The values, as a view (no copy); valid until the next append. */
  view(): Float64Array {
    return this.data.subarray(0, this.length);
  }
}
