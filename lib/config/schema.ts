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
import { DEFAULT_LEASE_TIMINGS } from "../election/timings.ts";

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

/**
 * A duration field: text such as `"15s"` or a number of seconds, parsed to milliseconds by
 * `lib/time/duration.ts` (the one parser). Its bounds are kept as the schema's metadata
 * (`durationMs`) for the generated docs/configuration.md.
 */
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
  }).meta({ durationMs: { min: minMs, max: maxMs } });
}

const port = z.number().int().min(0).max(65535);

/** One input as written in `request.inputs` (or in the original `request.input` JSON). */
export const InputSchema = z.strictObject({
  input: z.string().trim().min(1, "must not be empty").describe(
    "The command line, or the URL for get and post.",
  ),
  type: z.enum(INPUT_TYPES).optional().describe("The input's type; defaults to `request.type`."),
  name: z.string().optional().describe("A label for the result; defaults to the input text."),
  expect: z.string().superRefine((text, ctx) => {
    try {
      parseExpect(text);
    } catch (err) {
      // parseExpect's message starts with `expect "<text>"`; the path already names the field.
      const reason = (err as Error).message.replace(/^expect ".*?"\s*:?\s*/, "");
      ctx.addIssue({ code: "custom", message: reason });
    }
  }).optional().describe(
    "A check on the output ([commands.md](commands.md#expect-when-an-input-counts-as-success)).",
  ),
  timeout: duration({ minMs: 1 }).optional().describe(
    "Per-input timeout; defaults to `request.timeout`.",
  ),
  shell: z.boolean().optional().describe(
    "Run a cmd through `/bin/sh -c`; defaults to `request.shell`.",
  ),
  body: z.string().optional().describe("Request body for post (and get, if given)."),
  headers: z.record(z.string(), z.string()).superRefine((headers, ctx) => {
    for (const [name, value] of Object.entries(headers)) {
      const problem = headerProblem(name, value);
      if (problem !== undefined) {
        const input = problem.includes("header name") ? name : value;
        ctx.addIssue({ code: "custom", message: problem, path: [name], input });
        return;
      }
    }
  }).optional().describe("Request headers for get/post."),
  retries: z.number().int().min(0).max(10).optional().describe(
    "How often a failing check is retried inside one task attempt (default 0).",
  ),
  id: z.string().optional().describe(
    "Original fields some configs carry (`id`, `pswd`); accepted and ignored.",
  ),
  pswd: z.string().optional().describe("Original field; accepted and ignored."),
});
/** An input as written in configuration. */
export type InputConfig = z.output<typeof InputSchema>;

/** The whole `mcall.yaml`. Every key has a default, so an empty file is valid. */
export const ConfigSchema = z.strictObject({
  request: z.strictObject({
    subject: z.string().default("").describe("Copied into every result as `subject`."),
    timeout: duration({ minMs: 1 }).default(DEFAULT_TIMEOUT_MS).describe(
      "Default per-input timeout.",
    ),
    input: z.string().optional().describe(
      'The original layout: a JSON string `{"inputs":[...]}` (use one of `input`, `inputs`).',
    ),
    inputs: z.array(InputSchema).optional().describe(
      "The inputs as a YAML list (what the Helm chart writes).",
    ),
    type: z.enum(INPUT_TYPES).default("cmd").describe("Default input type."),
    name: z.string().default("").describe("Default result name when an input has none."),
    shell: z.boolean().default(false).describe(
      "Run every cmd through `/bin/sh -c` unless the input says otherwise.",
    ),
    maxOutputBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(
      DEFAULT_MAX_OUTPUT_BYTES,
    ).describe("Cap on captured output per input, in bytes."),
  }).prefault({}),
  response: z.strictObject({
    format: z.enum(["json", "plain", "plan"]).transform((f) => f === "plan" ? "plain" : f)
      .default("json").describe("Output format; `plan` is the original's typo for `plain`."),
    encoding: z.strictObject({
      type: z.enum(["", "std", "url"]).default("").describe(
        "Base64-encode each result with the `std` or `url` alphabet; empty: off.",
      ),
    }).prefault({}),
  }).prefault({}),
  worker: z.strictObject({
    number: z.number().int().min(1).max(1000).default(10).describe("How many inputs run at once."),
    terminationGracePeriod: duration({ minMs: 0, maxMs: 24 * 3_600_000 }).default(30_000).describe(
      "The pod's `terminationGracePeriodSeconds` (the chart passes it): on SIGTERM running tasks get this minus a margin to finish, then are handed back (leader mode).",
    ),
  }).prefault({}),
  log: z.strictObject({
    level: z.string().toLowerCase().pipe(
      z.enum(["debug", "info", "warning", "warn", "error", "fatal", "trace"]),
    ).transform((l) => l === "warn" ? "warning" : l).default("info").describe(
      "Log level, in any case (the original writes `DEBUG`, `WARNING`, …); `warn` means `warning`.",
    ),
    file: z.string().default("").describe("Also append JSON log lines to this file."),
  }).prefault({}),
  webserver: z.strictObject({
    enable: z.boolean().default(false).describe(
      "Serve the mcall HTTP API instead of running once.",
    ),
    host: z.string().min(1).default("127.0.0.1").describe(
      "Bind address; anything but loopback requires a token.",
    ),
    port: port.default(3000).describe("Port of the mcall HTTP API."),
    tokenFile: z.string().default("").describe(
      "File holding the bearer token (or the token itself in env `MCALL_WEBSERVER_TOKEN`).",
    ),
  }).prefault({}),
  election: z.strictObject({
    enabled: z.boolean().default(false).describe(
      "Leader mode: campaign for the Lease, plan rounds of tasks as leader, run them as worker.",
    ),
    leaseName: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "is not a valid object name")
      .max(253).default("dz-mcall-leader").describe("The Lease's name."),
    namespace: z.string().default("").describe(
      "Namespace of the Lease and the tasks; empty: the in-cluster service-account namespace.",
    ),
    identity: z.string().default("").describe("This candidate's identity (the pod name)."),
    leaseDuration: duration({ minMs: 1000 }).default(DEFAULT_LEASE_TIMINGS.leaseDurationMs)
      .describe(
        "How long a lease is valid without renewal.",
      ),
    renewDeadline: duration({ minMs: 500 }).default(DEFAULT_LEASE_TIMINGS.renewDeadlineMs).describe(
      "How long the leader keeps retrying a renewal before it gives up.",
    ),
    retryPeriod: duration({ minMs: 100 }).default(DEFAULT_LEASE_TIMINGS.retryPeriodMs).describe(
      "How often candidates retry (with jitter up to ×1.2).",
    ),
    releaseOnCancel: z.boolean().default(true).describe(
      "Release the lease on shutdown so another pod takes over at once.",
    ),
  }).prefault({}),
  tasks: z.strictObject({
    app: z.string().regex(
      /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/,
      "is not a valid label value",
    )
      .max(63).default("dz-mcall").describe("The `app` label on task ConfigMaps."),
    workerSelector: z.string().default("").describe(
      "Label selector of the worker pods. Defaults to `app=<tasks.app>`.",
    ),
    owner: z.string().default("").describe(
      "A ConfigMap in the namespace that owns the Lease, task ConfigMaps and round summaries, so Kubernetes deletes them with it (the chart names its config ConfigMap). Empty: no owner.",
    ),
    interval: duration({ minMs: 1000 }).default(300_000).describe(
      "Time between rounds in deployment mode.",
    ),
    pollInterval: duration({ minMs: 100 }).default(30_000).describe(
      "Safety-net resync of a worker's tasks (watch is the fast path).",
    ),
    historyLimit: z.number().int().min(1).max(100).default(3).describe(
      "Rounds whose finished tasks are kept.",
    ),
    failedHistoryLimit: z.number().int().min(0).max(100).default(1).describe(
      "Failed/dead/rejected tasks are kept for the last N rounds that had one.",
    ),
    maxAttempts: z.number().int().min(1).max(20).default(3).describe(
      "Attempts before a task is dead.",
    ),
    stuckGrace: duration({ minMs: 0 }).default(30_000).describe(
      "Grace beyond a task's timeout before the leader calls it stuck.",
    ),
    leaderRunsTasks: z.boolean().default(true).describe(
      "Let the leader run tasks itself when it is the only ready pod.",
    ),
    signingKeyFile: z.string().default("").describe("File holding the HMAC key that signs tasks."),
    insecureUnsignedTasks: z.boolean().default(false).describe(
      "Allow leader mode without a signing key (logs a warning).",
    ),
    round: z.string().default("").describe(
      "One-shot round id (the CronJob's Job name); empty means deployment mode.",
    ),
    roundDeadline: duration({ minMs: 1000 }).default(600_000).describe(
      "Give up a one-shot round after this long.",
    ),
  }).prefault({}),
  metrics: z.strictObject({
    enable: z.boolean().optional().describe(
      "Serve /healthz, /readyz and /metrics in leader mode (default on; false turns them off).",
    ),
    host: z.string().default("").describe(
      "Probe bind address; empty means 0.0.0.0 in a pod (KUBERNETES_SERVICE_HOST), else 127.0.0.1.",
    ),
    port: port.default(8080).describe("Port of /healthz, /readyz and /metrics."),
    pushgateway: z.strictObject({
      url: z.string().regex(/^(https?:\/\/[^/\s]+\S*)?$/, "must be an http:// or https:// URL")
        .default("").describe(
          "One-shot (CronJob) rounds: the round's leader pushes the per-check series to this " +
            "base URL, such as `http://pushgateway.monitoring:9091` ([metrics.md](metrics.md)); " +
            "empty turns pushing off.",
        ),
      job: z.string().min(1).default("dz-mcall").describe(
        "The `job` grouping label (with `namespace` and `app`: one group per release).",
      ),
      timeout: duration({ minMs: 100, maxMs: 60_000 }).default(5_000).describe(
        "Gives up the push after this long (a warning; the round's result is unchanged).",
      ),
    }).prefault({}).describe("Pushing one-shot rounds' per-check series to a Pushgateway."),
  }).prefault({}).describe("The probes and metrics of leader mode."),
});

/** The validated configuration, every default applied. */
export type Config = z.output<typeof ConfigSchema>;
