/**
 * The environment's proxy for the API server (`lib/kube/proxy_env.ts`), case by case as Go's
 * `http.ProxyFromEnvironment` decides (client-go's default).
 */
import assert from "node:assert/strict";
import { proxyFromEnvironment } from "../../lib/kube/proxy_env.ts";

Deno.test("proxyFromEnvironment() follows Go's HTTPS_PROXY / NO_PROXY rules", () => {
  const P = "http://proxy.corp:3128";
  const cases: [string, Record<string, string>, string | undefined][] = [
    ["https://10.0.0.1:6443", {}, undefined],
    ["https://10.0.0.1:6443", { HTTPS_PROXY: P }, P],
    ["https://10.0.0.1:6443", { https_proxy: P }, P],
    ["https://10.0.0.1:6443", { HTTP_PROXY: P }, undefined],
    ["http://10.0.0.1:8080", { HTTP_PROXY: P }, P],
    ["https://10.0.0.1:6443", { HTTPS_PROXY: "proxy.corp:3128" }, P],
    // Loopback and localhost never go through a proxy.
    ["https://127.0.0.1:6443", { HTTPS_PROXY: P }, undefined],
    ["https://127.8.9.1:6443", { HTTPS_PROXY: P }, undefined],
    ["https://[::1]:6443", { HTTPS_PROXY: P }, undefined],
    ["https://localhost:6443", { HTTPS_PROXY: P }, undefined],
    // NO_PROXY: *, CIDR, IP, domain and subdomains, with and without a port.
    ["https://10.0.0.1:6443", { HTTPS_PROXY: P, NO_PROXY: "*" }, undefined],
    ["https://10.96.0.1:443", { HTTPS_PROXY: P, NO_PROXY: "10.96.0.0/12" }, undefined],
    ["https://10.112.0.1:443", { HTTPS_PROXY: P, NO_PROXY: "10.96.0.0/12" }, P],
    ["https://10.0.0.1:6443", { HTTPS_PROXY: P, NO_PROXY: "10.0.0.1" }, undefined],
    ["https://10.0.0.1:6443", { HTTPS_PROXY: P, NO_PROXY: "10.0.0.1:6443" }, undefined],
    ["https://10.0.0.1:6443", { HTTPS_PROXY: P, NO_PROXY: "10.0.0.1:443" }, P],
    ["https://api.k8s.example:6443", { HTTPS_PROXY: P, no_proxy: "k8s.example" }, undefined],
    ["https://api.k8s.example:6443", { HTTPS_PROXY: P, NO_PROXY: ".k8s.example" }, undefined],
    ["https://k8s.example:6443", { HTTPS_PROXY: P, NO_PROXY: ".k8s.example" }, undefined],
    ["https://notk8s.example:6443", { HTTPS_PROXY: P, NO_PROXY: "k8s.example" }, P],
    ["https://[fd00::1]:6443", { HTTPS_PROXY: P, NO_PROXY: "fd00::/8" }, undefined],
    ["https://[fd00::1]:6443", { HTTPS_PROXY: P, NO_PROXY: "[fd00::1]:6443" }, undefined],
    ["https://[fd00::1]:6443", { HTTPS_PROXY: P, NO_PROXY: "fd00::2" }, P],
  ];
  for (const [server, env, want] of cases) {
    assert.equal(proxyFromEnvironment(server, env), want, `${server} ${JSON.stringify(env)}`);
  }
});
