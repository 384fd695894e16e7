/**
 * The shape of `mcall.yaml`: the single source of truth for every setting, its default and its
 * constraints. `lib/config/load.ts` layers file, environment and flags on top of each other and
 * validates the result against this schema; the Helm chart writes the same layout.
 *
 * Durations are written as `"10s"`, `"5m"`, `"1h30m"`, `"250ms"` or a number of seconds under the
 * keys users know (`tasks.interval`, an API); the parsed `Config` holds them as {@linkcode Millis}
 * under the key plus `Ms` (`config.tasks.intervalMs`), so the unit travels in the name and the type
 * from here to the timer. `tests/config/units_test.ts` checks the rule for every field.
 *
 * @module
 */
import { z } from "zod/mini";
import { millis } from "../time/duration.ts";
import { duration, unitObject } from "./units.ts";
import { DEFAULT_MAX_OUTPUT_BYTES } from "../engine/capture.ts";
import { parseExpect } from "../engine/expect.ts";
import { headerProblem } from "../engine/http_headers.ts";
import { trimBlanks } from "../engine/shellwords.ts";
import { DEFAULT_LEASE_TIMINGS } from "../election/timings.ts";
import { cronSchedule, timeZoneName } from "./cadence_rules.ts";

// zod/mini, not classic zod: the same validation core and messages, half the import and build
// cost (bench/startup.ts). It loads no locale of its own: English, as classic zod uses, for the
// messages issues.ts passes on. Every zod user in lib/ imports this module, so both settings hold
// wherever zod parses.
z.config(z.locales.en());
// Interpret schemas instead of compiling each object schema with `new Function` on its first
// parse: a run parses its configuration once, and the compile cost half of that parse
// (bench/startup.ts); later parses (HTTP requests, task specs) take microseconds either way.
z.config({ jitless: true });

/**
 * `schema` with its description for the generated docs (the global registry, as classic zod's
 * `.describe()` keeps it); returns `schema` itself.
 */
export function described<T extends z.ZodMiniType>(schema: T, description: string): T {
  z.globalRegistry.add(schema as z.ZodMiniType, { description });
  return schema;
}

/** An integer between `min` and `max` (inclusive; no upper bound when `max` is absent). */
export function integer(min: number, max?: number) {
  return z.number().check(
    z.int(),
    z.minimum(min),
    ...(max === undefined ? [] : [z.maximum(max)]),
  );
}

/** The kinds of input the engine runs. */
export const INPUT_TYPES = ["cmd", "get", "post"] as const;
/** An input kind: a command, an HTTP GET or an HTTP POST. */
export type InputType = typeof INPUT_TYPES[number];

/** Default per-input timeout, as the original's documented 10 s. */
export const DEFAULT_TIMEOUT_MS = millis(10_000);

const port = integer(0, 65535);
const { optional, _default: withDefault, prefault, strictObject, string, boolean } = z;

/** One input as written in `request.inputs` (or in the original `request.input` JSON). */
export const InputSchema = unitObject({
  input: described(
    // Not z.trim(): sh keeps U+00A0, CR… and an escaped blank (lib/engine/shellwords.ts).
    string().check(z.overwrite(trimBlanks), z.minLength(1, "must not be empty")),
    "The command line, or the URL for get and post.",
  ),
  type: described(
    optional(z.enum(INPUT_TYPES)),
    "The input's type; defaults to `request.type`.",
  ),
  name: described(
    optional(string()),
    "A label for the result; defaults to the input text.",
  ),
  expect: described(
    optional(
      string().check(z.superRefine((text, ctx) => {
        try {
          parseExpect(text);
        } catch (err) {
          // parseExpect's message starts with `expect "<text>"`; the path already names the field.
          const reason = (err as Error).message.replace(/^expect ".*?"\s*:?\s*/, "");
          ctx.addIssue({ code: "custom", message: reason });
        }
      })),
    ),
    "A check on the output ([commands.md](commands.md#expect-when-an-input-counts-as-success)).",
  ),
  timeout: described(
    optional(duration({ minMs: 1 })),
    "Per-input timeout; defaults to `request.timeout`.",
  ),
  shell: described(
    optional(boolean()),
    "Run a cmd through `/bin/sh -c`; defaults to `request.shell`.",
  ),
  body: described(optional(string()), "Request body for post (and get, if given)."),
  headers: described(
    optional(
      z.record(string(), string()).check(z.superRefine((headers, ctx) => {
        for (const [name, value] of Object.entries(headers)) {
          const problem = headerProblem(name, value);
          if (problem !== undefined) {
            const input = problem.includes("header name") ? name : value;
            ctx.addIssue({ code: "custom", message: problem, path: [name], input });
            return;
          }
        }
      })),
    ),
    "Request headers for get/post.",
  ),
  retries: described(
    optional(integer(0, 10)),
    "How often a failing check is retried inside one task attempt (default 0).",
  ),
  interval: described(
    optional(duration({ minMs: 1000 })),
    "This check's own interval (whole seconds), instead of every round ([tasks.md](tasks.md)).",
  ),
  schedule: described(
    optional(cronSchedule()),
    "This check's own cron schedule (5 fields or `@hourly`…, in `tasks.timeZone`); not with `interval`.",
  ),
  id: described(
    optional(string()),
    "Original fields some configs carry (`id`, `pswd`); accepted and ignored.",
  ),
  pswd: described(optional(string()), "Original field; accepted and ignored."),
});
/** An input as written in configuration. */
export type InputConfig = z.output<typeof InputSchema>;

/** A section of the file: a strict object whose absence means all its defaults. */
function section<T extends z.core.$ZodLooseShape>(shape: T) {
  // Every key of a section has a default or is optional, so `{}` is valid input (the generic
  // shape hides that from the type checker).
  return prefault(unitObject(shape), {} as never);
}

/** The whole `mcall.yaml`. Every key has a default, so an empty file is valid. */
export const ConfigSchema = strictObject({
  request: section({
    subject: described(withDefault(string(), ""), "Copied into every result as `subject`."),
    timeout: described(
      withDefault(duration({ minMs: 1 }), DEFAULT_TIMEOUT_MS),
      "Default per-input timeout.",
    ),
    input: described(
      optional(string()),
      'The original layout: a JSON string `{"inputs":[...]}` (use one of `input`, `inputs`).',
    ),
    inputs: described(
      optional(z.array(InputSchema)),
      "The inputs as a YAML list (what the Helm chart writes).",
    ),
    type: described(withDefault(z.enum(INPUT_TYPES), "cmd"), "Default input type."),
    name: described(withDefault(string(), ""), "Default result name when an input has none."),
    shell: described(
      withDefault(boolean(), false),
      "Run every cmd through `/bin/sh -c` unless the input says otherwise.",
    ),
    maxOutputBytes: described(
      withDefault(integer(1024, 16 * 1024 * 1024), DEFAULT_MAX_OUTPUT_BYTES),
      "Cap on captured output per input, in bytes.",
    ),
  }),
  response: section({
    format: described(
      withDefault(
        z.pipe(
          z.enum(["json", "plain", "plan"]),
          z.transform((f: "json" | "plain" | "plan") => f === "plan" ? "plain" : f),
        ),
        "json",
      ),
      "Output format; `plan` is the original's typo for `plain`.",
    ),
    encoding: section({
      type: described(
        withDefault(z.enum(["", "std", "url"]), ""),
        "Base64-encode each result with the `std` or `url` alphabet; empty: off.",
      ),
    }),
  }),
  worker: section({
    number: described(withDefault(integer(1, 1000), 10), "How many inputs run at once."),
    terminationGracePeriod: described(
      withDefault(duration({ minMs: 0, maxMs: 24 * 3_600_000 }), millis(30_000)),
      "The pod's `terminationGracePeriodSeconds` (the chart passes it): on SIGTERM running tasks get this minus a margin to finish, then are handed back (leader mode).",
    ),
  }),
  log: section({
    level: described(
      withDefault(
        z.pipe(
          z.pipe(
            string().check(z.toLowerCase()),
            z.enum(["debug", "info", "warning", "warn", "error", "fatal", "trace"]),
          ),
          z.transform((l: "debug" | "info" | "warning" | "warn" | "error" | "fatal" | "trace") =>
            l === "warn" ? "warning" : l
          ),
        ),
        "info",
      ),
      "Log level, in any case (the original writes `DEBUG`, `WARNING`, …); `warn` means `warning`.",
    ),
    file: described(withDefault(string(), ""), "Also append JSON log lines to this file."),
  }),
  webserver: section({
    enable: described(
      withDefault(boolean(), false),
      "Serve the mcall HTTP API instead of running once.",
    ),
    host: described(
      withDefault(string().check(z.minLength(1)), "127.0.0.1"),
      "Bind address; anything but loopback requires a token.",
    ),
    port: described(withDefault(port, 3000), "Port of the mcall HTTP API."),
    tokenFile: described(
      withDefault(string(), ""),
      "File holding the bearer token (or the token itself in env `MCALL_WEBSERVER_TOKEN`).",
    ),
  }),
  election: section({
    enabled: described(
      withDefault(boolean(), false),
      "Leader mode: campaign for the Lease, plan rounds of tasks as leader, run them as worker.",
    ),
    leaseName: described(
      withDefault(
        string().check(
          z.regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "is not a valid object name"),
          z.maxLength(253),
        ),
        "dz-mcall-leader",
      ),
      "The Lease's name.",
    ),
    namespace: described(
      withDefault(string(), ""),
      "Namespace of the Lease and the tasks; empty: the in-cluster service-account namespace.",
    ),
    identity: described(withDefault(string(), ""), "This candidate's identity (the pod name)."),
    leaseDuration: described(
      withDefault(duration({ minMs: 1000 }), millis(DEFAULT_LEASE_TIMINGS.leaseDurationMs)),
      "How long a lease is valid without renewal.",
    ),
    renewDeadline: described(
      withDefault(duration({ minMs: 500 }), millis(DEFAULT_LEASE_TIMINGS.renewDeadlineMs)),
      "How long the leader keeps retrying a renewal before it gives up.",
    ),
    retryPeriod: described(
      withDefault(duration({ minMs: 100 }), millis(DEFAULT_LEASE_TIMINGS.retryPeriodMs)),
      "How often candidates retry (with jitter up to ×1.2).",
    ),
    releaseOnCancel: described(
      withDefault(boolean(), true),
      "Release the lease on shutdown so another pod takes over at once.",
    ),
  }),
  tasks: section({
    app: described(
      withDefault(
        string().check(
          z.regex(/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/, "is not a valid label value"),
          z.maxLength(63),
        ),
        "dz-mcall",
      ),
      "The `app` label on task ConfigMaps.",
    ),
    workerSelector: described(
      withDefault(string(), ""),
      "Label selector of the worker pods. Defaults to `app=<tasks.app>`.",
    ),
    owner: described(
      withDefault(string(), ""),
      "A ConfigMap in the namespace that owns the Lease, task ConfigMaps and round summaries, so Kubernetes deletes them with it (the chart names its config ConfigMap). Empty: no owner.",
    ),
    interval: described(
      withDefault(duration({ minMs: 1000 }), millis(300_000)),
      "Time between rounds in deployment mode.",
    ),
    pollInterval: described(
      withDefault(duration({ minMs: 100 }), millis(30_000)),
      "How soon a worker is expected to claim a task assigned to it: one not claimed within 2 × pollInterval + stuckGrace is reassigned. (Workers watch their tasks; nothing polls.)",
    ),
    historyLimit: described(
      withDefault(integer(1, 100), 3),
      "Finished tasks kept per check (its newest runs).",
    ),
    failedHistoryLimit: described(
      withDefault(integer(0, 100), 1),
      "Failed/dead/rejected tasks kept per check (its newest failures).",
    ),
    maxAttempts: described(withDefault(integer(1, 20), 3), "Attempts before a task is dead."),
    stuckGrace: described(
      withDefault(duration({ minMs: 0 }), millis(30_000)),
      "Grace beyond a task's timeout before the leader calls it stuck.",
    ),
    leaderRunsTasks: described(
      withDefault(boolean(), true),
      "Let the leader run tasks itself when it is the only ready pod.",
    ),
    signingKeyFile: described(
      withDefault(string(), ""),
      "File holding the HMAC key that signs tasks.",
    ),
    insecureUnsignedTasks: described(
      withDefault(boolean(), false),
      "Allow leader mode without a signing key (logs a warning).",
    ),
    round: described(
      withDefault(string(), ""),
      "One-shot round id (the CronJob's Job name); empty means deployment mode.",
    ),
    roundDeadline: described(
      withDefault(duration({ minMs: 1000 }), millis(600_000)),
      "Give up a one-shot round after this long.",
    ),
    schedule: described(
      withDefault(cronSchedule(true), ""),
      "CronJob mode: the rounds' schedule (the chart's); no task may be due more often. Empty: none.",
    ),
    timeZone: described(withDefault(timeZoneName(), ""), "Zone of cron schedules; empty: UTC."),
  }),
  metrics: described(
    section({
      enable: described(
        optional(boolean()),
        "Serve /healthz, /readyz and /metrics in leader mode (default on; false turns them off).",
      ),
      host: described(
        withDefault(string(), ""),
        "Probe bind address; empty means 0.0.0.0 in a pod (KUBERNETES_SERVICE_HOST), else 127.0.0.1.",
      ),
      port: described(withDefault(port, 8080), "Port of /healthz, /readyz and /metrics."),
      pushgateway: described(
        section({
          url: described(
            withDefault(
              string().check(
                z.regex(/^(https?:\/\/[^/\s]+\S*)?$/, "must be an http:// or https:// URL"),
              ),
              "",
            ),
            "One-shot (CronJob) rounds: the round's leader pushes the per-check series to this " +
              "base URL, such as `http://pushgateway.monitoring:9091` ([metrics.md](metrics.md)); " +
              "empty turns pushing off.",
          ),
          job: described(
            withDefault(string().check(z.minLength(1)), "dz-mcall"),
            "The `job` grouping label (with `namespace` and `app`: one group per release).",
          ),
          timeout: described(
            withDefault(duration({ minMs: 100, maxMs: 60_000 }), millis(5_000)),
            "Gives up the push after this long (a warning; the round's result is unchanged).",
          ),
        }),
        "Pushing one-shot rounds' per-check series to a Pushgateway.",
      ),
    }),
    "The probes and metrics of leader mode.",
  ),
});

/** The validated configuration, every default applied. */
export type Config = z.output<typeof ConfigSchema>;
