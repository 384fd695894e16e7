/**
 * TLS transport benchmark (`deno task bench tls`): the cost of pinning the kubeconfig's CA
 * (lib/kube/tls.ts relays each connection through node:tls, which alone can drop the default
 * roots) against Deno's own TLS pool (the reference, which cannot: its `caCerts` add to them),
 * measured in the same run against the same recording HTTPS server (Go's TLS and HTTP/2, as
 * kube-apiserver; tests/kube/recorder): requests per second at 16 concurrent GETs, and the client
 * process's RSS after a GC. Interleaved `BENCH_TLS_RUNS` times (default 3); medians and the
 * per-run ratio.
 *
 * @module
 */
import { issue, makeCa } from "../tests/kube/pki.ts";
import { Recorder } from "../tests/kube/recorder.ts";
import { median, round } from "./proc.ts";
import type { Row } from "./table.ts";

interface Sample {
  perSecond: number;
  rssMiB: number;
}

async function client(server: string, caFile: string, mode: "pinned" | "deno"): Promise<Sample> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--v8-flags=--expose-gc,--optimize-for-size",
      "--allow-read",
      "--allow-write=/tmp",
      "--allow-env",
      "--allow-net",
      new URL("./tls_client.ts", import.meta.url).pathname,
      server,
      caFile,
      mode,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`bench/tls_client.ts ${mode} exited with ${out.code}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

export async function benchTls(): Promise<Row[]> {
  const dir = await Deno.makeTempDir();
  const ca = await makeCa(dir, "bench-ca");
  const cert = await issue(dir, ca, "server", { san: "IP:127.0.0.1" });
  const server = await Recorder.start({ cert: cert.certFile, key: cert.keyFile });
  // The recorder logs every request; drop them as they come (a long run would pile them up).
  const drain = setInterval(() => server.requests.splice(0), 1000);
  const runs = Number(Deno.env.get("BENCH_TLS_RUNS") ?? 3);
  const pinned: Sample[] = [];
  const deno: Sample[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      pinned.push(await client(server.url, ca.certFile, "pinned"));
      deno.push(await client(server.url, ca.certFile, "deno"));
    }
  } finally {
    clearInterval(drain);
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
  const ratio = (field: keyof Sample) =>
    round(median(pinned.map((s, i) => s[field] / deno[i]![field])), 2);
  return [
    {
      name: "pinned CA (lib/kube)",
      value: round(median(pinned.map((s) => s.perSecond))),
      unit: "req/s",
    },
    {
      name: "Deno's TLS pool (reference)",
      value: round(median(deno.map((s) => s.perSecond))),
      unit: "req/s",
    },
    {
      name: "throughput ratio",
      value: ratio("perSecond"),
      unit: "×",
      note: "pinned / reference, per run",
    },
    { name: "pinned CA RSS", value: round(median(pinned.map((s) => s.rssMiB))), unit: "MiB" },
    { name: "reference RSS", value: round(median(deno.map((s) => s.rssMiB))), unit: "MiB" },
    { name: "RSS ratio", value: ratio("rssMiB"), unit: "×", note: "pinned / reference, per run" },
  ];
}
