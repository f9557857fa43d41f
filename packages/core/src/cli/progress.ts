/**
 * Progress of long commands on stderr, rewritten in place, only when stderr
 * is a terminal: logs and pipes get nothing. `done()` erases the line so the
 * command's own output starts clean.
 */
export interface Progress {
  /** Shows a new step (always drawn). */
  step(text: string): void;
  /** Updates the current step; drawn at most every `intervalMs`. */
  update(text: string): void;
  done(): void;
}

const silent: Progress = { step() {}, update() {}, done() {} };

export function terminalProgress(stream: { isTTY?: boolean; columns?: number; write(s: string): unknown }, intervalMs = 100): Progress {
  if (stream.isTTY !== true) return silent;
  let last = 0;
  let shown = false;
  const draw = (text: string) => {
    // A pty without a size (script, CI) reports 0 columns.
    const width = (stream.columns !== undefined && stream.columns >= 20 ? stream.columns : 80) - 1;
    stream.write(`\r\x1b[K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
    shown = true;
    last = Date.now();
  };
  return {
    step: draw,
    update(text) {
      if (Date.now() - last >= intervalMs) draw(text);
    },
    done() {
      if (shown) stream.write("\r\x1b[K");
      shown = false;
    },
  };
}
