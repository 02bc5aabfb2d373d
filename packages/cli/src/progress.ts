/**
 * Build progress for people: one line per Dockerfile step; on a terminal, the latest output line of
 * each running build is shown below them and rewritten in place.
 */
import type { ProgressListener } from '@cosmo/images';

export interface ProgressPrinter {
  listener: ProgressListener;
  log: (line: string) => void;
  done: () => void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export function progressPrinter(out: NodeJS.WriteStream): ProgressPrinter {
  const tty = Boolean(out.isTTY);
  let frame = 0;
  let transient = false;
  const clear = () => {
    if (transient) out.write('\r\x1b[K');
    transient = false;
  };
  const print = (line: string) => {
    clear();
    out.write(`${line}\n`);
  };
  return {
    listener: ({ image, line }) => {
      if (/^Step \d+\/\d+ :/.test(line)) {
        print(`[${image}] ${line}`);
      } else if (tty) {
        clear();
        const width = (out.columns || 100) - image.length - 6;
        out.write(`${FRAMES[frame++ % FRAMES.length]} [${image}] ${line.slice(0, Math.max(10, width))}`);
        transient = true;
      }
    },
    log: print,
    done: clear,
  };
}
