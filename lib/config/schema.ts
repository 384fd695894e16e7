/**
 * The shape of `mcall.yaml`: the single source of truth for every setting, its default and its
 * constraints. `lib/config/load.ts` layers file, environment and flags on top of each other and
 * validates the result against this schema; the Helm chart writes the same layout.
 *
 * Durations are written as `"10s"`, `"5m"`, `"1h30m"`, `"250ms"` or a number of seconds and are
 * stored in milliseconds (fields ending in `Ms`).
 *
 * @module
 */
import { z } from "zod";
import { parseDurationMs } from "../time/duration.ts";
import { DEFAULT_MAX_OUTPUT_BYTES } from "../engine/capture.ts";
import { parseExpect } from "../engine/expect.ts";
import { headerProblem } from "../engine/http_headers.ts";

// Interpret schemas instead of compiling each object schema with `new Function` on its first
// parse: a run parses its configuration once, and the compile cost half of that parse
// (bench/startup.ts); later parses (HTTP requests, task specs) take microseconds either way.
z.config({ jitless: true });

/** The kinds of input the engine runs. */
export const INPUT_TYPES = ["cmd", "get", "post"] as const;
/** An input kind: a command, an HTTP GET or an HTTP POST. */
export type InputType = typeof INPUT_TYPES[number];

/** Default per-input timeout, as the original's documented 10 s. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** A duration field: text such as `"15s"` or a number of seconds, parsed to milliseconds. */
export function duration(opts: { minMs?: number; maxMs?: number } = {}) {
  const { minMs = 0, maxMs = 7 * 24 * 3_600_000 } = opts;
  return z.union([z.string(), z.number()]).transform((value, ctx) => {
    const ms = parseDurationMs(value);
    if (ms === undefined) {
      ctx.addIssue({ code: "custom", message: "is not a duration (use e.g. 10s, 5m, 1h30m)" });
      return z.NEVER;
    }
    if (ms < minMs || ms > maxMs) {
      ctx.addIssue({
        code: "custom",
        message: `must be between ${minMs}ms and ${maxMs}ms`,
      });
      return z.NEVER;
    }
    return ms;
  });
}

const port = z.number().int().min(0).max(65535);

/** One input as written in `request.inputs` (or in the original `request.input` JSON). */
export const InputSchema = z.strictObject({
  /** The command line, or the URL for get/post. */
  input: z.string().trim().min(1, "must not be empty"),
  /** cmd | get | post; defaults to `request.type`. */
  type: z.enum(INPUT_TYPES).optional(),
  /** A label for the result; defaults to the input text. */
  name: z.string().optional(),
  /** A check on the output (see the README's expect section). */
  expect: z.string().superRefine((text, ctx) => {
    try {
      parseExpect(text);
    } catch (err) {
      // parseExpect's message starts with `expect "<text>"`; the path already names the field.
      const reason = (err as Error).message.replace(/^expect ".*?"\s*:?\s*/, "");
      ctx.addIssue({ code: "custom", message: reason });
    }
  }).optional(),
  /** Per-input timeout; defaults to `request.timeout`. */
  timeout: duration({ minMs: 1 }).optional(),
  /** Run a cmd through `/bin/sh -c`; defaults to `request.shell`. */
  shell: z.boolean().optional(),
  /** Request body for post (and get, if given). */
  body: z.string().optional(),
  /** Request headers for get/post. */
  headers: z.record(z.string(), z.string()).superRefine((headers, ctx) => {
    for (const [name, value] of Object.entries(headers)) {
      const problem = headerProblem(name, value);
      if (problem !== undefined) {
        const input = problem.includes("header name") ? name : value;
        ctx.addIssue({ code: "custom", message: problem, path: [name], input });
        return;
      }
    }
  }).optional(),
  /** How often a failing check is retried inside one task attempt (default 0). */
  retries: z.number().int().min(0).max(10).optional(),
  /** Original fields some configs carry (`id`, `pswd`); accepted and ignored. */
  id: z.string().optional(),
  pswd: z.string().optional(),
});
/** An input as written in configuration. */
export type InputConfig = z.output<typeof InputSchema>;

/** The whole `mcall.yaml`. Every key has a default, so an empty file is valid. */
export const ConfigSchema = z.strictObject({
  request: z.strictObject({
    /** Copied into every result as `subject`. */
    subject: z.string().default(""),
    /** Default per-input timeout. */
    timeout: duration({ minMs: 1 }).default(DEFAULT_TIMEOUT_MS),
    /** The original layout: a JSON string `{"inputs":[...]}`. */
    input: z.string().optional(),
    /** The inputs as a YAML list (what the Helm chart writes). */
    inputs: z.array(InputSchema).optional(),
    /** Default input type. */
    type: z.enum(INPUT_TYPES).default("cmd"),
    /** Default result name when an input has none. */
    name: z.string().default(""),
    /** Run every cmd through `/bin/sh -c` unless the input says otherwise. */
    shell: z.boolean().default(false),
    /** Cap on captured output per input, in bytes. */
    maxOutputBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(
      DEFAULT_MAX_OUTPUT_BYTES,
    ),
  }).prefault({}),
  response: z.strictObject({
    /** json | plain (the original also accepted the typo `plan`). */
    format: z.enum(["json", "plain", "plan"]).transform((f) => f === "plan" ? "plain" : f)
      .default("json"),
    encoding: z.strictObject({
      /** Base64-encode each result: "" (off), std or url. */
      type: z.enum(["", "std", "url"]).default(""),
    }).prefault({}),
  }).prefault({}),
  worker: z.strictObject({
    /** How many inputs run at once. */
    number: z.number().int().min(1).max(1000).default(10),
    /**
     * The pod's `terminationGracePeriodSeconds` (the chart passes it): on SIGTERM running tasks
     * get this minus a margin to finish, then are handed back (leader mode).
     */
    terminationGracePeriod: duration({ minMs: 0, maxMs: 24 * 3_600_000 }).default(30_000),
  }).prefault({}),
  log: z.strictObject({
    /** debug | info | warning | error (also the original's DEBUG, WARNING, …). */
    level: z.string().toLowerCase().pipe(
      z.enum(["debug", "info", "warning", "warn", "error", "fatal", "trace"]),
    ).transform((l) => l === "warn" ? "warning" : l).default("info"),
    /** Also append JSON log lines to this file. */
    file: z.string().default(""),
  }).prefault({}),
  webserver: z.strictObject({
    /** Serve the mcall HTTP API instead of running once. */
    enable: z.boolean().default(false),
    /** Bind address; anything but loopback requires a token. */
    host: z.string().min(1).default("127.0.0.1"),
    port: port.default(3000),
    /** File holding the bearer token (or env MCALL_WEBSERVER_TOKEN). */
    tokenFile: z.string().default(""),
  }).prefault({}),
  election: z.strictObject({
    /** Leader mode (env LEADER_ELECTION=true, flag --elect). */
    enabled: z.boolean().default(false),
    /** The Lease's name. */
    leaseName: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "is not a valid object name")
      .max(253).default("dz-mcall-leader"),
    /** Namespace (env NAMESPACE, else the in-cluster service-account namespace). */
    namespace: z.string().default(""),
    /** This candidate's identity (env HOSTNAME). */
    identity: z.string().default(""),
    /** How long a lease is valid without renewal. */
    leaseDuration: duration({ minMs: 1000 }).default(15_000),
    /** How long the leader keeps retrying a renewal before it gives up. */
    renewDeadline: duration({ minMs: 500 }).default(10_000),
    /** How often candidates retry. */
    retryPeriod: duration({ minMs: 100 }).default(2_000),
    /** Release the lease on shutdown so another pod takes over at once. */
    releaseOnCancel: z.boolean().default(true),
  }).prefault({}),
  tasks: z.strictObject({
    /** The `app` label on task ConfigMaps. */
    app: z.string().regex(
      /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/,
      "is not a valid label value",
    )
      .max(63).default("dz-mcall"),
    /** Label selector of the worker pods. Defaults to `app=<tasks.app>`. */
    workerSelector: z.string().default(""),
    /**
     * A ConfigMap in the namespace that owns the Lease, task ConfigMaps and round summaries, so
     * Kubernetes deletes them with it (the chart names its config ConfigMap). Empty: no owner.
     */
    owner: z.string().default(""),
    /** Time between rounds in deployment mode. */
    interval: duration({ minMs: 1000 }).default(300_000),
    /** Safety-net resync of a worker's tasks (watch is the fast path). */
    pollInterval: duration({ minMs: 100 }).default(30_000),
    /** Rounds whose finished tasks are kept. */
    historyLimit: z.number().int().min(1).max(100).default(3),
    /** Failed/dead/rejected tasks are kept for the last N rounds that had one. */
    failedHistoryLimit: z.number().int().min(0).max(100).default(1),
    /** Attempts before a task is dead. */
    maxAttempts: z.number().int().min(1).max(20).default(3),
    /** Grace beyond a task's timeout before the leader calls it stuck. */
    stuckGrace: duration({ minMs: 0 }).default(30_000),
    /** Let the leader run tasks itself when it is the only ready pod. */
    leaderRunsTasks: z.boolean().default(true),
    /** File holding the task-signing key. */
    signingKeyFile: z.string().default(""),
    /** Allow unsigned tasks (logs a warning). */
    insecureUnsignedTasks: z.boolean().default(false),
    /** One-shot round id (the CronJob's Job name); empty means deployment mode. */
    round: z.string().default(""),
    /** Give up a one-shot round after this long. */
    roundDeadline: duration({ minMs: 1000 }).default(600_000),
  }).prefault({}),
  metrics: z.strictObject({
    /** Serve /healthz, /readyz and /metrics in leader mode (default on; false turns them off). */
    enable: z.boolean().optional(),
    /** Probe bind address; empty means 0.0.0.0 in a pod (KUBERNETES_SERVICE_HOST), else 127.0.0.1. */
    host: z.string().default(""),
    port: port.default(8080),
    /** One-shot (CronJob) rounds: the round's leader pushes the per-check series here. */
    pushgateway: z.strictObject({
      /** Base URL such as `http://pushgateway.monitoring:9091`; empty turns pushing off. */
      url: z.string().regex(/^(https?:\/\/[^/\s]+\S*)?$/, "must be an http:// or https:// URL")
        .default(""),
      /** The `job` grouping label (with `namespace` and `app`: one group per release). */
      job: z.string().min(1).default("dz-mcall"),
      /** Gives up the push after this long (a warning; the round's result is unchanged). */
      timeout: duration({ minMs: 100, maxMs: 60_000 }).default(5_000),
    }).prefault({}),
  }).prefault({}),
});

/** The validated configuration, every default applied. */
export type Config = z.output<typeof ConfigSchema>;
