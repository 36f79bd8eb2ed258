import cliProgress from "cli-progress";

export interface Progress {
  setTotal(total: number): void;
  increment(by: number): void;
  stop(): void;
}

const silent: Progress = { setTotal() {}, increment() {}, stop() {} };

/**
 * A progress bar on stderr when it is a terminal; nothing at all on a pipe or
 * a file, so scripts and logs see only the result.
 */
export function progress(label: string, unit: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return silent;
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit}`,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let total = 0;
  return {
    setTotal(t) {
      total = t;
      if (!started) {
        bar.start(t, 0);
        started = true;
      } else bar.setTotal(t);
    },
    increment(by) {
      if (!started) {
        bar.start(Math.max(total, by), 0);
        started = true;
      }
      bar.increment(by);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

const frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/**
 * A spinner on stderr (a terminal only) for a call the protocol reports no
 * progress of: the label and the seconds it has been waiting.
 */
export function spinner(label: string, stream: NodeJS.WriteStream = process.stderr): { stop(): void } {
  if (!stream.isTTY) return { stop() {} };
  const started = Date.now();
  let frame = 0;
  const draw = () => stream.write(`\r${frames[frame++ % frames.length]} ${label} (${Math.floor((Date.now() - started) / 1000)}s)\x1b[K`);
  draw();
  const timer = setInterval(draw, 100);
  return {
    stop() {
      clearInterval(timer);
      stream.write("\r\x1b[K");
    },
  };
}
