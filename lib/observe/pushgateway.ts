/**
 * Pushes a one-shot round's per-check series to a Prometheus Pushgateway — Prometheus' convention
 * for batch jobs, since a CronJob's pods exit at the end of their round and nothing is left to
 * scrape.
 *
 * The group is `job=<metrics.pushgateway.job>, namespace=<ns>, app=<tasks.app>`: round-independent,
 * so each round's `PUT` replaces the previous round's series instead of adding a group per round.
 * The series are recomputed from the ConfigMaps after the round ended (the same model as the
 * leader's `/metrics`, see `lib/observe/check_metrics.ts`). A push that fails or takes longer than
 * `metrics.pushgateway.timeout` is a warning and never changes the round's exit code.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { Registry } from "prom-client";
import { createCheckMetrics } from "./check_metrics.ts";
import { type CheckInput, snapshot } from "./check_snapshot.ts";
import type { Config } from "../config/schema.ts";
import { type Clock, systemClock } from "../time/clock.ts";
import { roundsSelector, tasksSelector, viewTask } from "../tasks/contract.ts";
import type { TaskStore } from "../tasks/store.ts";

/**
 * The Pushgateway URL of a group: `<base>/metrics/job/<job>/<label>/<value>…`. A value that is
 * empty or holds a `/` is sent base64url-encoded (`<label>@base64/<b64>`), as the Pushgateway
 * documents.
 *
 * @example Usage
 * ```ts
 * import { groupUrl } from "./pushgateway.ts";
 * import assert from "node:assert/strict";
 * assert.equal(
 *   groupUrl("http://pg:9091/", "dz-mcall", { namespace: "ops", app: "a/b" }),
 *   "http://pg:9091/metrics/job/dz-mcall/namespace/ops/app@base64/YS9i",
 * );
 * ```
 */
export function groupUrl(base: string, job: string, labels: Record<string, string>): string {
  const part = (name: string, value: string) => {
    if (value !== "" && !value.includes("/")) return `${name}/${encodeURIComponent(value)}`;
    const b64 = btoa(String.fromCharCode(...new TextEncoder().encode(value)))
      .replaceAll("+", "-").replaceAll("/", "_");
    return `${name}@base64/${b64 || "="}`;
  };
  const path = [part("job", job), ...Object.entries(labels).map(([k, v]) => part(k, v))];
  return `${base.replace(/\/+$/, "")}/metrics/${path.join("/")}`;
}

/**
 * `PUT`s `body` (Prometheus text format) to `url`, replacing the group.
 *
 * @throws {Error} On a non-2xx answer, a network error or the timeout, with a one-line message.
 */
export async function pushText(
  url: string,
  body: string,
  timeoutMs: number,
  clock: Clock = systemClock,
): Promise<void> {
  // As AbortSignal.timeout, on `clock`: the time bounds the answer and its body.
  const timeout = new AbortController();
  const timer = clock.setTimeout(
    () => timeout.abort(new DOMException("The push timed out", "TimeoutError")),
    timeoutMs,
  );
  try {
    let res: Response;
    try {
      res = await fetch(url, {
        method: "PUT",
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        body,
        signal: timeout.signal,
      });
    } catch (err) {
      const e = err as Error;
      throw new Error(e.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : e.message);
    }
    const text = (await res.text()).trim().split("\n")[0]?.slice(0, 200) ?? "";
    if (!res.ok) throw new Error(`HTTP ${res.status}${text ? `: ${text}` : ""}`);
  } finally {
    clock.clearTimeout(timer);
  }
}

/** What {@linkcode pushRound} needs. */
export interface PushRoundOptions {
  readonly config: Config;
  readonly store: TaskStore;
  readonly inputs: readonly CheckInput[];
  readonly namespace: string;
  readonly log: Logger;
}

/**
 * Pushes the release's per-check and per-round series when `metrics.pushgateway.url` is set.
 *
 * @returns Whether a push happened and succeeded (false when off or failed; never throws).
 */
export async function pushRound(o: PushRoundOptions): Promise<boolean> {
  const { url, job, timeoutMs } = o.config.metrics.pushgateway;
  if (url === "") return false;
  const app = o.config.tasks.app;
  const target = groupUrl(url, job, { namespace: o.namespace, app });
  try {
    const [tasks, summaries] = await Promise.all([
      o.store.list(tasksSelector(app)),
      o.store.list(roundsSelector(app)),
    ]);
    const registry = new Registry();
    createCheckMetrics(registry).update(
      snapshot(o.inputs, app, tasks.items.map(viewTask), summaries.items),
    );
    await pushText(target, await registry.metrics(), timeoutMs);
    o.log.info("Pushed the round's series to {url}", { url: target });
    return true;
  } catch (err) {
    o.log.warn("Could not push the round's series to {url}: {error}", {
      url: target,
      error: (err as Error).message,
    });
    return false;
  }
}
