/**
 * Where one input partition of the sense step stands, so that a restart or a rebalance loses and
 * doubles nothing: the highest offset applied to the windows (redelivered messages are skipped),
 * and the offset from which a new owner must replay to rebuild the windows (committed with the
 * offset as Kafka commit metadata). Replayed messages rebuild state without emitting; emission
 * resumes at the committed offset. Pure: offsets and event times in, decisions out. Offsets are
 * numbers: exact up to 2^53, far beyond any partition's life.
 */
export class PartitionProgress {
  private phase: 'new' | 'rebuilding' | 'live' = 'new';
  private emitFrom = -1;
  private appliedOffset = -1;
  private baseOffset: number | undefined;
  private maxTs = -Infinity;
  /** The first offset at which the partition's event time entered each step bucket, oldest first. */
  private readonly checkpoints: Array<{ offset: number; bucket: number }> = [];

  /**
   * @param keepMs event time a rebuild must cover behind the newest sample (window plus margins)
   * @param stepMs granularity of the rebuild points (e.g. the emit interval)
   */
  constructor(
    private readonly keepMs: number,
    private readonly stepMs: number,
  ) {}

  /** True until `begin` has been called for the current assignment. */
  get started(): boolean {
    return this.phase !== 'new';
  }

  /**
   * Starts from the group's committed offset and the rebuild offset committed with it. Returns the
   * offset to seek to when the fetched batch starts later than the rebuild point.
   */
  begin(
    committed: number | undefined,
    rebuildFrom: number | undefined,
    firstFetched: number,
  ): number | undefined {
    if (committed === undefined || rebuildFrom === undefined || rebuildFrom >= committed) {
      this.phase = 'live';
      return undefined;
    }
    this.phase = 'rebuilding';
    this.emitFrom = committed;
    this.baseOffset = rebuildFrom;
    return firstFetched > rebuildFrom ? rebuildFrom : undefined;
  }

  /** False for a message already applied (a redelivery): it must not count twice. */
  shouldApply(offset: number): boolean {
    return offset > this.appliedOffset;
  }

  /** True while replaying what an earlier owner already emitted: rebuild, do not emit. */
  isReplay(offset: number): boolean {
    return this.phase === 'rebuilding' && offset < this.emitFrom;
  }

  /** Records a message as applied, with its event time when it had one. */
  applied(offset: number, ts?: number): void {
    this.appliedOffset = offset;
    this.baseOffset ??= offset;
    if (this.phase === 'rebuilding' && offset + 1 >= this.emitFrom) this.phase = 'live';
    if (ts === undefined || !(ts > this.maxTs)) return;
    this.maxTs = ts;
    const bucket = Math.floor(ts / this.stepMs);
    const last = this.checkpoints[this.checkpoints.length - 1];
    if (!last || bucket > last.bucket) this.checkpoints.push({ offset, bucket });
  }

  /** The next offset to consume (what to commit). */
  get nextOffset(): number {
    return this.appliedOffset + 1;
  }

  /**
   * The offset a new owner must replay from: every message after it may still be inside a window
   * (its event time is within `keepMs` of the newest); every message before it is not.
   */
  rebuildOffset(): number {
    const horizon = Math.floor((this.maxTs - this.keepMs) / this.stepMs);
    let cut = -1;
    for (let i = 0; i < this.checkpoints.length; i++) if (this.checkpoints[i]!.bucket <= horizon) cut = i;
    if (cut >= 0) {
      // Messages before that checkpoint are all older than its bucket, so older than the horizon.
      this.baseOffset = this.checkpoints[cut]!.offset;
      this.checkpoints.splice(0, cut);
    }
    return this.baseOffset ?? this.nextOffset;
  }
}
