/**
 * The Deno side of the task-writes floor (bench/floor.ts): a task's three writes, as
 * bench/gocreate `-updates 2` makes them with client-go (the create; the claim: state running,
 * claimed-at, processed-by; the result: state succeeded, processed, processed-at and the result's
 * data keys; each a compare-and-swap on the resourceVersion the previous write returned), made
 * from this runtime by one of two clients:
 *
 * - `--client fetch`: bare Deno, `fetch` over a `Deno.createHttpClient` with the kubeconfig's CA
 *   (HTTP/2), JSON in and out, none of our code on the path;
 * - `--client conn`: our connection (its pool and pinned TLS relay) with bare JSON: the relay's
 *   share;
 * - `--client ours`: our client (`lib/kube`: the pool of a `KubeConnection`, its pinned TLS
 *   transport, `KubeTaskStore`'s create and update with their conversions).
 *
 * `--rate R`: task i starts no earlier than i/R s after the first (bench/gocreate's `-rate`): the
 * writes at a round's pace instead of flat out.
 *
 * Prints one JSON line `{"creates":N,"updates":U,"ms":T,"cpuMs":C}`; `cpuMs` is this process's
 * CPU (user + system) over the writes only, without the runtime's start.
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { loadKubeConfig } from "../lib/kube/kubeconfig.ts";
import { KubeConnection } from "../lib/kube/client.ts";
import { KubeTaskStore } from "../lib/kube/configmaps.ts";
import type { ConfigMapLike } from "../lib/tasks/store.ts";
import { startTurn } from "./pace.ts";

const { values } = parseArgs({
  options: {
    kubeconfig: { type: "string" },
    namespace: { type: "string", default: "default" },
    count: { type: "string", default: "1000" },
    concurrency: { type: "string", default: "16" },
    prefix: { type: "string", default: "denocreate" },
    client: { type: "string", default: "fetch" },
    rate: { type: "string", default: "0" },
  },
});
const count = Number(values.count);
const concurrency = Number(values.concurrency);
const prefix = values.prefix;
const rate = Number(values.rate);
if (!(rate >= 0)) {
  console.error(`denocreate: --rate must be a number ≥ 0, not ${JSON.stringify(values.rate)}`);
  Deno.exit(2);
}
if (!["fetch", "conn", "ours"].includes(values.client)) {
  console.error(
    `denocreate: --client must be fetch, conn or ours, not ${JSON.stringify(values.client)}`,
  );
  Deno.exit(2);
}

const SPEC =
  `{"input":"true","type":"cmd","name":"t","timeoutMs":10000,"shell":false,"headers":{},"retries":0}`;

/** The object of task `i` as created (bench/gocreate's). */
function task(i: number): ConfigMapLike {
  return {
    metadata: {
      name: `${prefix}-${i}`,
      labels: {
        app: "dz-mcall",
        task: "true",
        "round-id": prefix,
        state: "pending",
        "assigned-to": `pod-${i % 5}`,
      },
      annotations: { "leader-epoch": "1", attempt: "1", signature: "a".repeat(64) },
    },
    data: { spec: SPEC },
  };
}

/** The claim (`u` 0) or the result (`u` 1) written over `got`, as bench/gocreate writes them. */
function change(got: ConfigMapLike, i: number, u: number): ConfigMapLike {
  const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const labels = { ...got.metadata.labels };
  const annotations: Record<string, string> = {
    ...got.metadata.annotations,
    "processed-by": `pod-${i % 5}`,
  };
  const data = { ...got.data };
  if (u === 0) {
    labels.state = "running";
    annotations["claimed-at"] = now;
  } else {
    labels.state = "succeeded";
    annotations.processed = "true";
    annotations["processed-at"] = now;
    Object.assign(data, {
      errorCode: "0",
      exitCode: "0",
      status: "",
      durationMs: "2",
      truncated: "false",
      error: "",
      output: "",
      ts: now,
    });
  }
  return { ...got, metadata: { ...got.metadata, labels, annotations }, data };
}

interface Writer {
  create(cm: ConfigMapLike): Promise<ConfigMapLike>;
  update(cm: ConfigMapLike): Promise<ConfigMapLike>;
  close(): void;
}

const kc = await loadKubeConfig({ KUBECONFIG: values.kubeconfig ?? "" });
const ns = values.namespace;

/** Writes bare JSON through `send` (`base` the collection's path or URL). */
function jsonWriter(
  base: string,
  send: (method: string, path: string, body: string) => Promise<Response>,
  close: () => void,
): Writer {
  const write = async (method: string, path: string, cm: ConfigMapLike) => {
    const res = await send(
      method,
      path,
      JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", ...cm }),
    );
    const body = await res.json();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${body?.message}`);
    return body as ConfigMapLike;
  };
  return {
    create: (cm) => write("POST", base, cm),
    update: (cm) => write("PUT", `${base}/${cm.metadata.name}`, cm),
    close,
  };
}

/** Bare Deno: fetch, JSON, and the object as the API server returned it. */
async function bareWriter(): Promise<Writer> {
  const client = Deno.createHttpClient({
    caCerts: [...kc.caCerts],
    ...(kc.cert !== undefined && kc.key !== undefined ? { cert: kc.cert, key: kc.key } : {}),
    http1: false,
    http2: true,
  });
  const authorization = (await kc.authorization()) ?? "";
  const headers = { authorization, "content-type": "application/json", accept: "application/json" };
  return jsonWriter(
    `${kc.server}/api/v1/namespaces/${ns}/configmaps`,
    (method, url, body) => fetch(url, { method, client, headers, body }),
    () => client.close(),
  );
}

/** Our connection (its pool and pinned TLS relay) with bare JSON: the relay's share alone. */
function connWriter(): Writer {
  const conn = new KubeConnection(kc);
  const signal = new AbortController().signal;
  return jsonWriter(
    `/api/v1/namespaces/${ns}/configmaps`,
    (method, path, body) => conn.send(method, path, body, signal),
    () => conn.close(),
  );
}

function ourWriter(): Writer {
  const conn = new KubeConnection(kc);
  const store = new KubeTaskStore(conn, ns);
  return {
    create: (cm) => store.create(cm),
    update: (cm) => store.update(cm),
    close: () => conn.close(),
  };
}

const writer = values.client === "fetch"
  ? await bareWriter()
  : values.client === "conn"
  ? connWriter()
  : ourWriter();
let next = 0;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await Promise.all(Array.from({ length: concurrency }, async () => {
  for (let i = next++; i < count; i = next++) {
    await startTurn(t0, i, rate);
    let got = await writer.create(task(i));
    for (let u = 0; u < 2; u++) got = await writer.update(change(got, i, u));
  }
}));
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
writer.close();
console.log(JSON.stringify({
  creates: count,
  updates: count * 2,
  ms,
  cpuMs: (cpu.user + cpu.system) / 1000,
}));
