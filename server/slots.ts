// slots.ts - dense indexes into pcf_rule_stats (a per-CPU array), one per rule. Lowest free
// slot first, so every slot in use stays below the number of rules, and so below the map's
// size whenever the rules fit in the map.

export class SlotAllocator {
  /** Freed slots below `next`, kept sorted descending so pop() gives the lowest. */
  private free: number[] = [];
  private next = 0;

  /** Rebuilds from the slots in use (from SQLite). */
  reset(used: Iterable<number>): void {
    const slots = [...used];
    // A loop, not Math.max(...slots): spreading 124,000 or more arguments overflows the stack.
    let max = -1;
    for (const s of slots) if (s > max) max = s;
    // A bitmap, not a Set: a million slots at start-up.
    const inUse = new Uint8Array(max + 1);
    for (const s of slots) inUse[s] = 1;
    this.next = max + 1;
    this.free = [];
    for (let s = this.next - 1; s >= 0; s--) if (!inUse[s]) this.free.push(s);
  }

  take(): number {
    return this.free.length ? this.free.pop()! : this.next++;
  }

  /** Returns slots; slots at the top lower the high-water mark again. */
  give(slots: number[]): void {
    if (!slots.length) return;
    this.free = this.free.concat(slots).sort((a, b) => b - a);
    let top = 0;
    while (top < this.free.length && this.free[top] === this.next - 1) {
      this.next--;
      top++;
    }
    if (top) this.free.splice(0, top);
  }

  /** One past the highest slot in use: how much of pcf_rule_stats to read. */
  get highWater(): number {
    return this.next;
  }
}
