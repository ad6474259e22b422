/**
 * The live view's status block on a terminal: a few lines pinned at the top of the screen
 * (a scroll region below them takes the event lines), redrawn in place. Plain ANSI/VT100 escapes:
 * DECSTBM for the region, save and restore of the cursor around each redraw.
 */

/** The terminal the block is drawn on: process.stdout on a TTY, or a fake one in tests. */
export interface StatusTerminal {
  readonly rows?: number;
  readonly columns?: number;
  write(text: string): unknown;
}

const ESC = '\x1b[';

/** A status block of `height` lines above a scrolling region; lines longer than the width are cut. */
export class StatusBlock {
  private drawnFor: string | undefined;
  private lastLines: readonly string[] = [];
  private open = false;

  constructor(
    private readonly term: StatusTerminal,
    readonly height: number,
  ) {}

  /** Whether the terminal is tall enough for the block and a few event lines. */
  fits(): boolean {
    return (this.term.rows ?? 0) >= this.height + 4 && (this.term.columns ?? 0) >= 20;
  }

  /** Clears the screen, sets the scroll region below the block and puts the cursor in it. */
  start(): void {
    this.open = true;
    this.term.write(`${ESC}2J`);
    this.region();
  }

  /** One event line, into the scrolling region. */
  line(text: string): void {
    this.term.write(`${text}\n`);
  }

  /** Redraws the block (and the region, after a resize), the cursor left where it was. */
  draw(lines: readonly string[]): void {
    if (!this.open) return;
    const size = `${this.term.rows}x${this.term.columns}`;
    if (size !== this.drawnFor) this.region();
    else if (lines.length === this.lastLines.length && lines.every((l, i) => l === this.lastLines[i])) return;
    this.lastLines = [...lines];
    const width = Math.max(1, (this.term.columns ?? 80) - 1);
    let out = '\x1b7';
    for (let i = 0; i < this.height; i++) {
      const text = lines[i] ?? '';
      out += `${ESC}${i + 1};1H${ESC}2K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`;
    }
    this.term.write(`${out}\x1b8`);
  }

  /** Gives the whole screen back (no region) with the cursor on the last row. */
  stop(): void {
    if (!this.open) return;
    this.open = false;
    this.term.write(`${ESC}r${ESC}${this.term.rows ?? 24};1H\n`);
  }

  private region(): void {
    const rows = this.term.rows ?? 24;
    this.drawnFor = `${this.term.rows}x${this.term.columns}`;
    this.lastLines = [];
    // DECSTBM homes the cursor: it is put back at the bottom of the region.
    this.term.write(`${ESC}${this.height + 1};${rows}r${ESC}${rows};1H`);
  }
}
