/**
 * The command line's flag table: every flag, its spellings, what it sets and its help line. Data
 * only, no imports: `main.ts` reads it to print a lone `--version` or `--help` without loading the
 * parser (`args.ts`), so they start at bare-Deno speed (bench/startup.ts).
 *
 * @module
 */

/** One command-line flag. */
export interface FlagSpec {
  readonly long: string;
  readonly short?: string;
  /** Go-style single-dash long aliases of the original (`-worker`, `-lf`). */
  readonly alias?: string;
  readonly type: "string" | "boolean";
  /** Config path the flag sets; absent for CLI-only flags. */
  readonly path?: string;
  readonly kind?: "int" | "duration" | "bool-text";
  readonly arg?: string;
  readonly help: string;
}

/** Every flag, in the order `--help` lists them. */
export const FLAGS: readonly FlagSpec[] = [
  {
    long: "input",
    short: "i",
    type: "string",
    arg: "LIST",
    help: "inputs, comma-separated (commas inside quotes kept)",
  },
  {
    long: "type",
    short: "t",
    type: "string",
    path: "request.type",
    arg: "TYPE",
    help: "type of -i inputs: cmd | get | post (default cmd)",
  },
  {
    long: "name",
    short: "n",
    type: "string",
    path: "request.name",
    arg: "NAME",
    help: "result name for inputs without one",
  },
  {
    long: "config",
    short: "c",
    type: "string",
    arg: "FILE",
    help: "mcall.yaml config file (env MCALL_CONFIG)",
  },
  {
    long: "web",
    short: "w",
    type: "boolean",
    path: "webserver.enable",
    help: "serve the mcall HTTP API instead of running once",
  },
  {
    long: "host",
    type: "string",
    path: "webserver.host",
    arg: "ADDR",
    help: "serve mode bind address (default 127.0.0.1)",
  },
  {
    long: "port",
    short: "p",
    type: "string",
    path: "webserver.port",
    kind: "int",
    arg: "PORT",
    help: "serve mode port (default 3000)",
  },
  {
    long: "token-file",
    type: "string",
    path: "webserver.tokenFile",
    arg: "FILE",
    help: "bearer token for serve mode (or env MCALL_WEBSERVER_TOKEN)",
  },
  {
    long: "format",
    short: "f",
    type: "string",
    path: "response.format",
    arg: "FMT",
    help: "json | plain (default json)",
  },
  {
    long: "encoding",
    short: "e",
    type: "string",
    path: "response.encoding.type",
    arg: "ENC",
    help: "base64-encode results: std | url",
  },
  {
    long: "worker",
    alias: "worker",
    type: "string",
    path: "worker.number",
    kind: "int",
    arg: "N",
    help: "how many inputs run at once (default 10)",
  },
  {
    long: "subject",
    type: "string",
    path: "request.subject",
    arg: "TEXT",
    help: "copied into every result",
  },
  {
    long: "timeout",
    type: "string",
    path: "request.timeout",
    kind: "duration",
    arg: "DUR",
    help: "per-input timeout, e.g. 10s (default 10s)",
  },
  {
    long: "shell",
    type: "boolean",
    path: "request.shell",
    help: "run every cmd through /bin/sh -c",
  },
  {
    long: "max-output-bytes",
    type: "string",
    path: "request.maxOutputBytes",
    kind: "int",
    arg: "N",
    help: "cap on captured output per input (default 65536)",
  },
  {
    long: "log-level",
    short: "l",
    type: "string",
    path: "log.level",
    arg: "LEVEL",
    help: "debug | info | warning | error (default info)",
  },
  {
    long: "log-file",
    alias: "lf",
    type: "string",
    path: "log.file",
    arg: "FILE",
    help: "also append JSON log lines to FILE",
  },
  {
    long: "elect",
    type: "boolean",
    path: "election.enabled",
    help: "leader mode (env LEADER_ELECTION=true)",
  },
  {
    long: "lease-name",
    type: "string",
    path: "election.leaseName",
    arg: "NAME",
    help: "Lease name (default dz-mcall-leader)",
  },
  {
    long: "namespace",
    type: "string",
    path: "election.namespace",
    arg: "NS",
    help: "namespace (env NAMESPACE)",
  },
  {
    long: "identity",
    type: "string",
    path: "election.identity",
    arg: "ID",
    help: "this pod's identity (env HOSTNAME)",
  },
  {
    long: "round",
    type: "string",
    path: "tasks.round",
    arg: "ID",
    help: "run one round with this id, then exit (CronJob mode)",
  },
  {
    long: "signing-key-file",
    type: "string",
    path: "tasks.signingKeyFile",
    arg: "FILE",
    help: "task-signing key file",
  },
  {
    long: "insecure-unsigned-tasks",
    type: "boolean",
    path: "tasks.insecureUnsignedTasks",
    help: "allow leader mode without a signing key",
  },
  {
    long: "metrics-port",
    type: "string",
    path: "metrics.port",
    kind: "int",
    arg: "PORT",
    help: "/healthz /readyz /metrics port (default 8080)",
  },
  {
    long: "output",
    short: "o",
    type: "string",
    arg: "FMT",
    help: "status output: table | json (default table)",
  },
  { long: "help", short: "h", type: "boolean", help: "show this help" },
  { long: "version", short: "v", type: "boolean", help: "print the version" },
];

/**
 * What a command line of one argument that only prints asks for: `version` or `help` when `args`
 * is exactly one spelling of `--version` or `--help` (short, long, or Go-style single-dash long),
 * else undefined. For those arguments `parseCli` (`args.ts`) returns the same
 * (tests/cli/args_test.ts checks every flag spelling against it).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { printOnly } from "./flags.ts";
 * assert.equal(printOnly(["-v"]), "version");
 * assert.equal(printOnly(["--help"]), "help");
 * assert.equal(printOnly(["--help", "-i", "true"]), undefined);
 * ```
 */
export function printOnly(args: readonly string[]): "version" | "help" | undefined {
  if (args.length !== 1) return undefined;
  const arg = args[0]!;
  for (const long of ["version", "help"] as const) {
    const flag = FLAGS.find((f) => f.long === long)!;
    const spellings = [`--${long}`, `-${long}`, ...(flag.short ? [`-${flag.short}`] : [])];
    if (spellings.includes(arg)) return long;
  }
  return undefined;
}
