/**
 * Reading a child process the way the test harnesses do: its stderr kept (the tail, echoed when
 * asked) for the error message, and the first line of its stdout, waited for with a timeout.
 *
 * @module
 */

/** A child's stderr being collected. */
export interface StderrTail {
  /** The last `keepChars` characters so far. */
  text(): string;
  /** Settles when stderr ends. */
  readonly done: Promise<void>;
}

/**
 * Collects `child`'s stderr, keeping its last `keepChars` characters; `echo` also copies it to
 * this process's stderr as it arrives.
 */
export function collectStderr(
  child: Deno.ChildProcess,
  keepChars: number,
  echo = false,
): StderrTail {
  let text = "";
  const done = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      if (echo) Deno.stderr.writeSync(new TextEncoder().encode(chunk));
      text = (text + chunk).slice(-keepChars);
    }
  })().catch(() => {});
  return { text: () => text, done };
}

/**
 * The first line `child` writes to stdout (without its newline), or `undefined` when stdout ends
 * first. After `timeoutMs` the child gets SIGTERM, which ends stdout. Stops reading stdout after
 * the line.
 */
export async function firstLine(
  child: Deno.ChildProcess,
  timeoutMs: number,
): Promise<string | undefined> {
  const timer = setTimeout(() => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
  }, timeoutMs);
  let text = "";
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) return undefined;
      text += value;
    }
    return text.slice(0, text.indexOf("\n"));
  } finally {
    clearTimeout(timer);
    reader.cancel().catch(() => {});
  }
}
