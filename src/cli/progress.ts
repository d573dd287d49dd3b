import cliProgress from 'cli-progress';
import type { Progress } from '../bundle/types.js';

/**
 * A progress bar on stderr while long work runs, only when stderr is a terminal: piped or
 * redirected output stays clean. Returns the listener to pass as `onProgress`, and `stop()`.
 */
export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr, unit = 'rows'): { onProgress?: (p: Progress) => void; stop(): void } {
  if (!stream.isTTY) return { stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {rows} ${unit}`, stream, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    onProgress: (p) => {
      if (p.percentage < 0) return;
      if (!started) {
        bar.start(100, 0, { rows: 0 });
        started = true;
      }
      bar.update(Math.min(100, Math.round(p.percentage)), { rows: p.rowsProcessed.toLocaleString() });
    },
    stop: () => {
      if (started) bar.stop();
      started = false;
    },
  };
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export interface Spinner {
  /** False when stderr is not a terminal: nothing is shown, so nothing needs tracking. */
  readonly active: boolean;
  /** Rows done so far (shown beside the label). */
  rows(count: number): void;
  /** A percentage, when the engine knows one. */
  progress(p: { percentage: number }): void;
  /** Clears the line; idempotent. */
  stop(): void;
}

/** How long work runs before the spinner shows (BUNDLEBASE_SPINNER_DELAY, ms): quick commands print nothing extra. */
const SPINNER_DELAY_MS = Number(process.env.BUNDLEBASE_SPINNER_DELAY ?? 500) || 0;

/**
 * A spinner on stderr for work of unknown length (`query`, `count`), only when stderr is a
 * terminal: piped or redirected output never sees an escape code.
 */
export function spinner(label: string, stream: NodeJS.WriteStream = process.stderr): Spinner {
  if (!stream.isTTY) return { active: false, rows: () => undefined, progress: () => undefined, stop: () => undefined };
  let frame = 0;
  let detail = '';
  let shown = false;
  const draw = () => {
    shown = true;
    stream.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${label}${detail}`);
  };
  let timer: NodeJS.Timeout | undefined;
  const start = setTimeout(() => {
    draw();
    timer = setInterval(draw, 100).unref();
  }, SPINNER_DELAY_MS).unref();
  let stopped = false;
  return {
    active: true,
    rows: (count) => {
      detail = ` ${count.toLocaleString()} rows`;
    },
    progress: (p) => {
      if (p.percentage >= 0) detail = ` ${Math.round(p.percentage)}%`;
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      clearTimeout(start);
      if (shown) stream.write('\r\x1b[2K');
    },
  };
}
