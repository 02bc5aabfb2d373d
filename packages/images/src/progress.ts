/**
 * Build progress as it streams from the daemon. The daemon reports a failed step as an `error` /
 * `errorDetail` event inside a stream that itself ends successfully, so every event is checked.
 */

export interface BuildEvent {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string; code?: number };
  aux?: { ID?: string };
}

export class BuildFailedError extends Error {
  override name = 'BuildFailedError';
  readonly image: string;
  readonly step: string | undefined;
  readonly daemonMessage: string;
  /** The last lines the failing step printed: usually the reason. */
  readonly outputTail: string[];
  constructor(image: string, step: string | undefined, daemonMessage: string, outputTail: string[] = []) {
    super(
      `building ${image} failed${step ? ` at ${step}` : ''}: ${daemonMessage}` +
        (outputTail.length ? `\nlast output of the step:\n  ${outputTail.join('\n  ')}` : ''),
    );
    this.image = image;
    this.step = step;
    this.daemonMessage = daemonMessage;
    this.outputTail = outputTail;
  }
}

export type ProgressListener = (update: { image: string; line: string; step?: string }) => void;

/** Reads events in order, remembers the current step and the output, and throws on the first error. */
export class BuildStream {
  step: string | undefined;
  imageId: string | undefined;
  readonly output: string[] = [];

  private readonly image: string;
  private readonly listener: ProgressListener | undefined;
  constructor(image: string, listener: ProgressListener | undefined) {
    this.image = image;
    this.listener = listener;
  }

  accept(event: BuildEvent): void {
    const message = event.errorDetail?.message ?? event.error;
    if (message !== undefined) {
      const sinceStep = this.output.slice(this.output.lastIndexOf(this.step ?? '') + 1);
      throw new BuildFailedError(this.image, this.step, message.trim(), sinceStep.slice(-15));
    }
    if (event.aux?.ID) this.imageId = event.aux.ID;
    const text = event.stream ?? event.status;
    if (!text) return;
    for (const raw of text.split('\n')) {
      const line = raw.trimEnd();
      if (!line) continue;
      this.output.push(line);
      if (/^Step \d+\/\d+ :/.test(line)) this.step = line;
      this.listener?.({ image: this.image, line, ...(this.step ? { step: this.step } : {}) });
    }
  }
}
