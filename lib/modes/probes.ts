/**
 * Leader mode's probe server: `/healthz`, `/readyz` and `/metrics`.
 *
 * @module
 */
import { logger } from "../log/log.ts";
import { bindServer, plainText } from "./http_server.ts";

/** A probe's verdict. */
export interface ProbeResult {
  readonly ok: boolean;
  readonly reason: string;
}

/** What the probe server asks the running program. */
export interface Probes {
  /** Liveness: fails when this pod leads but has not renewed for lease duration + 20 s. */
  healthz(): ProbeResult;
  /** Readiness: the pod can take tasks. */
  readyz(): ProbeResult;
  /** Prometheus text and its content type. */
  metrics(): Promise<{ body: string; contentType: string }>;
}

/** `/healthz`, `/readyz`, `/metrics` as a plain request handler. */
export function probeHandler(probes: Probes): (req: Request) => Promise<Response> {
  return async (req) => {
    const { pathname } = new URL(req.url);
    if (req.method !== "GET" && req.method !== "HEAD") return plainText(405, "method not allowed");
    if (pathname === "/healthz" || pathname === "/readyz") {
      const verdict = pathname === "/healthz" ? probes.healthz() : probes.readyz();
      return plainText(verdict.ok ? 200 : 503, verdict.reason);
    }
    if (pathname === "/metrics") {
      const { body, contentType } = await probes.metrics();
      return new Response(body, { headers: { "content-type": contentType } });
    }
    return plainText(404, "not found");
  };
}

/** Serves {@linkcode probeHandler} until `signal` aborts. */
export function serveProbes(
  host: string,
  port: number,
  probes: Probes,
  signal: AbortSignal,
  onListen?: (addr: Deno.NetAddr) => void,
): Deno.HttpServer<Deno.NetAddr> {
  const log = logger("server");
  return bindServer("metrics", host, port, () =>
    Deno.serve({
      hostname: host,
      port,
      signal,
      onListen: (addr) => {
        log.info("Probes on {host}:{port}", { host: addr.hostname, port: addr.port });
        onListen?.(addr);
      },
    }, probeHandler(probes)));
}
