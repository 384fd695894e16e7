/**
 * The constraints of `chart/values.schema.json` that `@bitnami/readme-generator-for-helm` cannot
 * derive from the `## @param` comments of `chart/values.yaml`: integer types, minimums and
 * maximums, patterns, enums, `additionalProperties`, required values and the schema of one task.
 * This is their one home; `scripts/chart_docs.ts` merges them into the generated schema, whose
 * types (from the defaults) and descriptions (from the `@param` texts) come from values.yaml.
 *
 * How a rule merges (`mergeSchema` in scripts/chart_docs.ts): a rule's keywords replace the
 * generated ones at the same path, `properties` merge name by name. A rule may add a property
 * values.yaml does not have (`global`, a probe's `successThreshold`) only with its own
 * `description`; a rule for a value that has neither is an error, so a renamed value cannot
 * leave a stale rule behind.
 *
 * @module
 */

/** A JSON Schema (draft-07) fragment. */
export type SchemaRule = { [keyword: string]: unknown };

/**
 * A duration as mcall.yaml accepts it: `250ms`, `10s`, `5m`, `1h30m` or a number of seconds.
 * Restates `lib/time/duration.ts`; tests/chart/durations_test.ts runs one table of cases through
 * both.
 */
const DURATION: SchemaRule = {
  type: ["string", "integer", "number"],
  pattern: "^(([0-9]+(\\.[0-9]+)?(ms|h|m|s))+|[0-9]+(\\.[0-9]+)?)$",
  minimum: 0,
};

/** A cron schedule: 5 fields or an @hourly-style macro (a task's own schedule has no @every). */
const CRON_TASK =
  "^(@(annually|yearly|monthly|weekly|daily|midnight|hourly)|[0-9A-Za-z*?/,-]+([ \\t]+[0-9A-Za-z*?/,-]+){4})$";

/** A Prometheus duration (ServiceMonitor fields): no fractions, no plain numbers. */
const PROM_DURATION: SchemaRule = { type: "string", pattern: "^([0-9]+(ms|s|m|h))+$" };

/** Labels and annotations: string to string. */
const STRING_MAP: SchemaRule = { type: "object", additionalProperties: { type: "string" } };

/** A Kubernetes resource quantity (`50m`, `1`, `160Mi`): `--set` turns `1` into a number. */
const QUANTITY: SchemaRule = { type: ["string", "number"] };

/** A Kubernetes IntOrString count: `1` or `25%`. */
const INT_OR_PERCENT: SchemaRule = { type: ["integer", "string"], pattern: "^[0-9]+%?$" };

const integer = (minimum: number, maximum?: number): SchemaRule =>
  maximum === undefined ? { type: "integer", minimum } : { type: "integer", minimum, maximum };

const oneOf = (...values: string[]): SchemaRule => ({ type: "string", enum: values });

/** An object whose keys are exactly the documented ones. */
const closed = (properties: Record<string, SchemaRule> = {}): SchemaRule => ({
  additionalProperties: false,
  properties,
});

const PROBE = closed({
  initialDelaySeconds: integer(0),
  periodSeconds: integer(1),
  timeoutSeconds: integer(1),
  failureThreshold: integer(1),
  successThreshold: {
    ...integer(1),
    description: "Successes before the probe passes again (Kubernetes allows only 1 for liveness)",
  },
});

/**
 * One task, as `request.inputs` of mcall.yaml takes it (lib/config/schema.ts InputSchema). The
 * field descriptions are short: the `tasks` @param text and docs/commands.md say more.
 */
const TASK: SchemaRule = {
  type: "object",
  description: "One task: an input the round runs",
  additionalProperties: false,
  required: ["input"],
  properties: {
    input: {
      type: "string",
      description: "The command line, or the URL for get/post",
      minLength: 1,
      pattern: "\\S",
    },
    name: {
      type: "string",
      description: "A label for the result; defaults to the input",
      minLength: 1,
      maxLength: 253,
    },
    type: {
      ...oneOf("cmd", "get", "post"),
      description: "cmd, get or post; defaults to defaultType",
    },
    expect: {
      type: "string",
      description:
        "When the task succeeds: status=200|2xx, $count < N, /regex/flags or a|b substrings (docs/commands.md)",
    },
    timeout: { ...DURATION, description: "Per-task timeout (duration)" },
    shell: { type: "boolean", description: "cmd only: run through /bin/sh -c" },
    body: { type: "string", description: "Request body (post)" },
    headers: { ...STRING_MAP, description: "Request headers (get/post)" },
    retries: {
      ...integer(0, 10),
      description: "Extra tries of a failing check inside one attempt",
    },
    interval: {
      ...DURATION,
      minimum: 1,
      description:
        "This task's own interval instead of every round (duration in whole seconds, at least 1s: 30s, 5m, 1h)",
    },
    schedule: {
      type: "string",
      description:
        "This task's own cron schedule instead of every round (5 fields or a macro such as @hourly, in timeZone)",
      pattern: CRON_TASK,
    },
  },
};

/** The rules, shaped like the values tree. */
export const SCHEMA_RULES: SchemaRule = {
  $schema: "http://json-schema.org/draft-07/schema#",
  title: "dz-mcall chart values",
  // A typo such as `intervall` is an error, not a value that silently does nothing.
  additionalProperties: false,
  required: ["mode", "replicas", "tasks"],
  properties: {
    global: { type: "object", description: "Global values of a parent chart" },
    app: { pattern: "^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$", maxLength: 63 },
    commonLabels: STRING_MAP,
    commonAnnotations: STRING_MAP,
    mode: oneOf("cronjob", "deployment"),
    replicas: integer(1, 1000),
    schedule: {
      pattern:
        "^(@(annually|yearly|monthly|weekly|daily|midnight|hourly)|@every ([0-9]+(ms|h|m|s))+|[0-9A-Za-z*?/,-]+([ \\t]+[0-9A-Za-z*?/,-]+){4})$",
    },
    // `Allow` would let rounds pile up.
    concurrencyPolicy: oneOf("Forbid", "Replace"),
    startingDeadlineSeconds: { type: ["integer", "null"], minimum: 10 },
    activeDeadlineSeconds: integer(1),
    backoffLimit: integer(0),
    completionMode: oneOf("Indexed", "NonIndexed"),
    restartPolicy: oneOf("OnFailure", "Never"),
    successfulJobsHistoryLimit: integer(0),
    failedJobsHistoryLimit: integer(0),
    ttlSecondsAfterFinished: { type: ["integer", "null"], minimum: 0 },
    roundDeadline: DURATION,
    interval: DURATION,
    revisionHistoryLimit: integer(0),
    updateStrategy: {
      properties: {
        type: oneOf("RollingUpdate", "Recreate"),
        rollingUpdate: { properties: { maxUnavailable: INT_OR_PERCENT, maxSurge: INT_OR_PERCENT } },
      },
    },
    podDisruptionBudget: closed({
      minAvailable: { ...INT_OR_PERCENT, type: ["integer", "string", "null"] },
      maxUnavailable: { ...INT_OR_PERCENT, type: ["integer", "string", "null"] },
    }),
    // A map is let through only so that validateValues (_helpers.tpl) can say what the user
    // meant: `--set tasks.interval=1m` is mcall.yaml's key for the top-level `interval`.
    tasks: { type: ["array", "object"], minItems: 1, items: TASK },
    defaultType: oneOf("cmd", "get", "post"),
    timeout: DURATION,
    maxOutputBytes: integer(1024, 16777216),
    workers: integer(1, 1000),
    pollInterval: DURATION,
    historyLimit: integer(1, 100),
    failedHistoryLimit: integer(0, 100),
    maxAttempts: integer(1, 20),
    stuckGrace: DURATION,
    logLevel: oneOf("debug", "info", "warning", "error"),
    outputFormat: oneOf("json", "plain"),
    election: closed({
      leaseName: { pattern: "^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$", maxLength: 253 },
      leaseDuration: DURATION,
      renewDeadline: DURATION,
      retryPeriod: DURATION,
    }),
    signingKey: closed(),
    image: closed({
      repository: { minLength: 1 },
      tag: { type: ["string", "number"] },
      digest: { pattern: "^(sha256:[a-f0-9]{64})?$" },
      pullPolicy: oneOf("Always", "IfNotPresent", "Never"),
    }),
    rbac: closed(),
    serviceAccount: closed({ annotations: STRING_MAP }),
    podAnnotations: STRING_MAP,
    podLabels: STRING_MAP,
    podSecurityContext: {
      properties: { runAsUser: integer(0), runAsGroup: integer(0), fsGroup: integer(0) },
    },
    containerSecurityContext: {
      properties: { runAsUser: integer(0), runAsGroup: integer(0) },
    },
    resources: {
      properties: {
        requests: { properties: { cpu: QUANTITY, memory: QUANTITY } },
        limits: { properties: { cpu: QUANTITY, memory: QUANTITY } },
      },
    },
    tmpSizeLimit: { type: ["string", "null"] },
    terminationGracePeriodSeconds: integer(0),
    nodeSelector: STRING_MAP,
    extraEnv: { items: { type: "object", required: ["name"] } },
    metrics: closed({
      port: integer(1, 65535),
      pushgateway: closed({
        url: { pattern: "^(https?://[^/\\s]+\\S*)?$" },
        job: { minLength: 1 },
        timeout: { type: ["string", "number"] },
      }),
    }),
    service: closed({ annotations: STRING_MAP }),
    serviceMonitor: closed({
      interval: PROM_DURATION,
      scrapeTimeout: PROM_DURATION,
      labels: STRING_MAP,
    }),
    livenessProbe: PROBE,
    readinessProbe: PROBE,
    prometheusRule: closed({
      labels: STRING_MAP,
      failingRounds: integer(1, 1000),
      roundInterval: { type: ["string", "number"] },
      severity: { minLength: 1 },
    }),
    grafanaDashboard: closed({ labels: STRING_MAP, annotations: STRING_MAP }),
    tests: closed(),
  },
};
