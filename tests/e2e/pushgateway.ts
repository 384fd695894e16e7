/**
 * A real Prometheus Pushgateway on 127.0.0.1 for the tests, built from Go modules by
 * `scripts/prom-tools.sh pushgateway` (cached outside the repo) and run with its in-memory store only.
 *
 * @module
 */
import { waitFor } from "./harness.ts";

const SCRIPT = decodeURIComponent(
  new URL("../../scripts/prom-tools.sh", import.meta.url).pathname,
);

/** A running Pushgateway. */
export interface Pushgateway {
  readonly url: string;
  /** Its own `/metrics` (every pushed group, with grouping labels added). */
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

function freePort(hostname: string): number {
  const l = Deno.listen({ hostname, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * Builds (once) and starts a Pushgateway; resolves when it answers `/-/ready`.
 *
 * @param hostname Where it listens: 127.0.0.1, or the real node's address so pods reach it.
 */
export async function startPushgateway(hostname = "127.0.0.1"): Promise<Pushgateway> {
  const out = await new Deno.Command("bash", {
    args: [SCRIPT, "pushgateway", "build"],
    stderr: "piped",
  })
    .output();
  if (out.code !== 0) {
    throw new Error(
      `scripts/prom-tools.sh pushgateway exited ${out.code}: ${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
  const bin = new TextDecoder().decode(out.stdout).trim().split("\n").pop()!;
  const port = freePort(hostname);
  const url = `http://${hostname}:${port}`;
  const child = new Deno.Command(bin, {
    args: [`--web.listen-address=${hostname}:${port}`, "--log.level=warn"],
    stdout: "null",
    stderr: "null",
    stdin: "null",
  }).spawn();
  await waitFor(
    async () => (await fetch(`${url}/-/ready`).then(
      (r) => r.body?.cancel().then(() => r.ok),
      () => false,
    )),
    { timeoutMs: 15_000, message: "the Pushgateway is ready" },
  );
  return {
    url,
    metrics: async () => await (await fetch(`${url}/metrics`)).text(),
    stop: async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await child.status;
    },
  };
}
