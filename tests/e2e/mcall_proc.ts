/**
 * Runs the real program (`main.ts`) as a child process for end-to-end tests, collecting its JSON
 * log lines from stderr so tests can wait for events ("started leading", "Round ... is over").
 */
import { fileURLToPath } from "node:url";
import { programPermissions, programV8Flags } from "../permissions.ts";

const MAIN = fileURLToPath(new URL("../../main.ts", import.meta.url));
const DENO = Deno.execPath();

/** The program's permissions: etc/deno-permissions, as the image and `deno task start` use them. */
export const PROGRAM_PERMISSIONS: readonly string[] = programPermissions();
/** The program's V8 flags: etc/deno-v8-flags, as the image and `deno task start` use them. */
export const PROGRAM_V8_FLAGS: readonly string[] = programV8Flags();

/** One parsed JSON log line. */
export interface LogLine {
  readonly "@timestamp": string;
  readonly level: string;
  readonly logger: string;
  readonly message: string;
  readonly properties: Record<string, unknown>;
  /** Local receive time (ms since epoch). */
  readonly receivedAt: number;
}

/** A running instance of the program. */
export class McallProcess {
  readonly name: string;
  readonly child: Deno.ChildProcess;
  readonly lines: LogLine[] = [];
  /** Raw stderr lines that were not JSON (Deno errors, panics). */
  readonly rawErrors: string[] = [];
  stdout = "";
  readonly exited: Promise<Deno.CommandStatus>;
  #waiters = new Set<() => void>();
  #reading: Promise<void>[];

  /**
   * @param extraV8Flags More V8 flags after the program's (e.g. `--prof` for a bench's profile).
   */
  constructor(
    name: string,
    args: string[],
    env: Record<string, string>,
    extraV8Flags: readonly string[] = [],
  ) {
    this.name = name;
    const v8 = extraV8Flags.length === 0
      ? PROGRAM_V8_FLAGS
      : [`${PROGRAM_V8_FLAGS.join(",")},${extraV8Flags.join(",")}`];
    this.child = new Deno.Command(DENO, {
      args: ["run", ...v8, ...PROGRAM_PERMISSIONS, MAIN, ...args],
      env: { NO_COLOR: "1", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#reading = [this.#readStderr(), this.#readStdout()];
    this.exited = this.child.status.then(async (status) => {
      await Promise.allSettled(this.#reading);
      this.#notify();
      return status;
    });
  }

  async #readStderr() {
    const decoder = new TextDecoderStream();
    let buffer = "";
    for await (const chunk of this.child.stderr.pipeThrough(decoder)) {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (!line.trim()) continue;
        try {
          this.lines.push({ ...JSON.parse(line), receivedAt: Date.now() });
        } catch {
          this.rawErrors.push(line);
        }
      }
      this.#notify();
    }
  }

  async #readStdout() {
    for await (const chunk of this.child.stdout.pipeThrough(new TextDecoderStream())) {
      this.stdout += chunk;
    }
  }

  #notify() {
    for (const w of this.#waiters) w();
  }

  /** Log lines whose `properties.event` is `event`. */
  events(event: string): LogLine[] {
    return this.lines.filter((l) => l.properties?.event === event);
  }

  /**
   * Waits until `predicate` holds over the collected lines, or throws after `timeoutMs` with the
   * process's last log lines.
   */
  async waitFor<T>(
    what: string,
    predicate: () => T | undefined | false,
    timeoutMs = 30_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = predicate();
      if (value) return value;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`${this.name}: timed out waiting for ${what}\n${this.tail()}`);
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, 250));
        this.#waiters.add(wake);
      });
    }
  }

  /** The last log lines, for failure messages. */
  tail(n = 15): string {
    const json = this.lines.slice(-n).map((l) => `  ${l.level} ${l.message}`);
    return [...json, ...this.rawErrors.slice(-5).map((l) => `  raw: ${l}`)].join("\n");
  }

  /** Sends a signal (ignores a process that already exited). */
  kill(signal: Deno.Signal = "SIGTERM") {
    try {
      this.child.kill(signal);
    } catch {
      // Already gone.
    }
  }

  /** SIGKILLs the process if still running and waits for it. */
  async stop(): Promise<Deno.CommandStatus> {
    this.kill("SIGKILL");
    return await this.exited;
  }
}
