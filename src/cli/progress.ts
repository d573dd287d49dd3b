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
