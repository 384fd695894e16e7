/**
 * The proxy of a connection to the API server when the kubeconfig sets no `proxy-url`
 * ({@linkcode proxyFromEnvironment}): client-go uses Go's `http.ProxyFromEnvironment` —
 * `HTTPS_PROXY` for an `https` server (`HTTP_PROXY` for `http`), except for hosts matched by
 * `NO_PROXY` and for loopback addresses and `localhost`, which never go through a proxy.
 *
 * @module
 */

type Env = Readonly<Record<string, string | undefined>>;

/** An IPv4 or IPv6 address as bytes (`undefined`: not an address). */
function ipBytes(host: string): number[] | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return host.split(".").map(Number);
  if (!host.includes(":")) return undefined;
  const [head, tail] = host.split("::") as [string, string | undefined];
  const part = (s: string | undefined) => (s ? s.split(":") : []);
  const h = part(head);
  const t = part(tail);
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) return undefined;
  return groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 255]);
}

/** Whether `ip` is in `cidr` (`10.0.0.0/8`, `fd00::/8`). */
function inCidr(ip: number[], cidr: string): boolean {
  const [base, bits] = cidr.split("/");
  const net = ipBytes(base!);
  const len = Number(bits);
  if (net === undefined || net.length !== ip.length || !(len >= 0 && len <= ip.length * 8)) {
    return false;
  }
  for (let i = 0; i < len; i++) {
    const bit = (b: number[]) => (b[i >> 3]! >> (7 - (i & 7))) & 1;
    if (bit(ip) !== bit(net)) return false;
  }
  return true;
}

/** Whether `NO_PROXY` exempts `host` (port `port`), with Go's rules. */
function exempt(noProxy: string, host: string, port: string): boolean {
  const ip = ipBytes(host);
  for (const raw of noProxy.split(",").map((e) => e.trim().toLowerCase()).filter(Boolean)) {
    if (raw === "*") return true;
    if (raw.includes("/")) {
      if (ip !== undefined && inCidr(ip, raw)) return true;
      continue;
    }
    // `name`, `name:port`, `1.2.3.4`, `1.2.3.4:port`, `::1`, `[::1]:port`.
    const m = /^\[(.+)\](?::(\d+))?$/.exec(raw) ??
      (ipBytes(raw) !== undefined ? [raw, raw, undefined] : /^([^:]+)(?::(\d+))?$/.exec(raw));
    if (m === null) continue;
    const [, name, entryPort] = m as unknown as [string, string, string | undefined];
    if (entryPort !== undefined && entryPort !== port) continue;
    if (ipBytes(name) !== undefined) {
      if (ip !== undefined && ipBytes(name)!.join() === ip.join()) return true;
      continue;
    }
    // `example.com` and `.example.com` both match the name and its subdomains.
    const domain = name.replace(/^\*?\./, "");
    if (host === domain || host.endsWith(`.${domain}`)) return true;
  }
  return false;
}

/**
 * The proxy URL the environment gives for `server`, as client-go would use it.
 *
 * @param server The API server's URL.
 * @param env The environment.
 * @returns The proxy URL, or `undefined` for a direct connection.
 */
export function proxyFromEnvironment(server: string, env: Env): string | undefined {
  const url = new URL(server);
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  const ip = ipBytes(host);
  const loopback = host === "localhost" ||
    (ip !== undefined && (ip.length === 4 ? ip[0] === 127 : inCidr(ip, "::1/128")));
  if (loopback) return undefined;
  const proxy = url.protocol === "https:"
    ? env.HTTPS_PROXY || env.https_proxy
    : env.HTTP_PROXY || env.http_proxy;
  if (!proxy) return undefined;
  if (exempt(env.NO_PROXY || env.no_proxy || "", host, port)) return undefined;
  // Go reads a proxy without a scheme as http://.
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(proxy) ? proxy : `http://${proxy}`;
}
