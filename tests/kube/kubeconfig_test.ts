/**
 * The client configuration loader (`lib/kube/kubeconfig.ts`): kubeconfig variants, the in-cluster
 * service account, token rotation (a temp file and the fake clock), exec credentials, and the
 * one-line errors for what is not supported. tests/kube/exec_credential_test.ts has the plugin's
 * cache and lock, tests/kube/conformance_test.ts compares the loader with kubectl.
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config/layer.ts";
import { loadKubeConfig, TOKEN_REREAD_MS } from "../../lib/kube/kubeconfig.ts";
import { FakeClock } from "../fakes/clock.ts";
import { withDir } from "../fakes/temp_dir.ts";

const CA = "-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n";
const CERT = "-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n";
const b64 = (text: string) => btoa(text);

/** A kubeconfig (JSON is YAML) with one context `ctx` joining `cluster` and `user`. */
function kubeconfig(cluster: Record<string, unknown>, user: Record<string, unknown>) {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:6443/", ...cluster } }],
    users: [{ name: "u", user }],
    contexts: [{ name: "ctx", context: { cluster: "c", user: "u" } }],
    "current-context": "ctx",
  });
}

Deno.test("loadKubeConfig() reads a kubeconfig's server, CA file, client certificate and token", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/ca.pem`, CA);
    await Deno.writeTextFile(
      `${dir}/config`,
      kubeconfig({ "certificate-authority": "ca.pem" }, {
        "client-certificate-data": b64(CERT),
        "client-key-data": b64(KEY),
        token: "abc",
      }),
    );
    const kc = await loadKubeConfig({ KUBECONFIG: `${dir}/config` });
    assert.equal(kc.server, "https://127.0.0.1:6443");
    assert.deepEqual(kc.caCerts, [CA]);
    assert.equal(kc.cert, CERT);
    assert.equal(kc.key, KEY);
    assert.equal(await kc.authorization(), "Bearer abc");
  });
});

Deno.test("loadKubeConfig() reads certificate files, CA data, basic auth and ~/.kube/config", async () => {
  await withDir(async (home) => {
    await Deno.mkdir(`${home}/.kube`);
    await Deno.writeTextFile(`${home}/.kube/c.pem`, CERT);
    await Deno.writeTextFile(`${home}/k.pem`, KEY);
    await Deno.writeTextFile(
      `${home}/.kube/config`,
      kubeconfig({ "certificate-authority-data": b64(CA), "proxy-url": "http://127.0.0.1:3128" }, {
        "client-certificate": "c.pem",
        "client-key": `${home}/k.pem`,
        username: "admin",
        password: "secret",
      }),
    );
    const kc = await loadKubeConfig({ HOME: home });
    assert.deepEqual(kc.caCerts, [CA]);
    assert.equal(kc.cert, CERT);
    assert.equal(kc.key, KEY);
    assert.equal(kc.proxy, "http://127.0.0.1:3128");
    assert.equal(await kc.authorization(), `Basic ${btoa("admin:secret")}`);
  });
});

Deno.test("loadKubeConfig() merges KUBECONFIG files: the first to set a name or context wins", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/a`,
      JSON.stringify({
        users: [{ name: "u", user: { token: "first" } }],
        "current-context": "ctx",
      }),
    );
    await Deno.writeTextFile(`${dir}/b`, kubeconfig({}, { token: "second" }));
    const kc = await loadKubeConfig({ KUBECONFIG: `${dir}/a:${dir}/b` });
    assert.equal(kc.server, "https://127.0.0.1:6443");
    assert.equal(await kc.authorization(), "Bearer first");
  });
});

Deno.test("a token file is read again once a minute (rotated tokens)", async () => {
  await withDir(async (dir) => {
    const clock = new FakeClock();
    await Deno.writeTextFile(`${dir}/token`, "one\n");
    await Deno.writeTextFile(`${dir}/config`, kubeconfig({}, { tokenFile: "token" }));
    const kc = await loadKubeConfig({ KUBECONFIG: `${dir}/config` }, { clock });
    assert.equal(await kc.authorization(), "Bearer one");
    await Deno.writeTextFile(`${dir}/token`, "two\n");
    await clock.advance(TOKEN_REREAD_MS - 1);
    assert.equal(await kc.authorization(), "Bearer one", "not re-read before a minute");
    await clock.advance(1);
    assert.equal(await kc.authorization(), "Bearer two");
    await Deno.remove(`${dir}/token`);
    await clock.advance(TOKEN_REREAD_MS);
    assert.equal(await kc.authorization(), "Bearer two", "an unreadable file keeps the last token");
  });
});

Deno.test("in a pod: the Service's host and port, ca.crt, and the rotating token", async () => {
  await withDir(async (dir) => {
    const clock = new FakeClock();
    await Deno.writeTextFile(`${dir}/token`, "sa-1");
    await Deno.writeTextFile(`${dir}/ca.crt`, CA);
    const env = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "6443" };
    const kc = await loadKubeConfig(env, { serviceAccountDir: dir, clock });
    assert.equal(kc.server, "https://10.96.0.1:6443");
    assert.deepEqual(kc.caCerts, [CA]);
    assert.equal(kc.cert, undefined);
    assert.equal(await kc.authorization(), "Bearer sa-1");
    await Deno.writeTextFile(`${dir}/token`, "sa-2");
    await clock.advance(TOKEN_REREAD_MS);
    assert.equal(await kc.authorization(), "Bearer sa-2");
    const v6 = await loadKubeConfig({ KUBERNETES_SERVICE_HOST: "fd00::1" }, {
      serviceAccountDir: dir,
    });
    assert.equal(v6.server, "https://[fd00::1]:443");
  });
});

Deno.test("an exec user gets its token from the plugin's ExecCredential", async () => {
  await withDir(async (dir) => {
    const credential = JSON.stringify({
      apiVersion: "client.authentication.k8s.io/v1",
      kind: "ExecCredential",
      status: { token: "from-exec" },
    });
    await Deno.writeTextFile(
      `${dir}/config`,
      kubeconfig({}, {
        exec: {
          apiVersion: "client.authentication.k8s.io/v1",
          command: "sh",
          args: ["-c", `printf '%s' '${credential}'`],
          interactiveMode: "Never",
        },
      }),
    );
    const kc = await loadKubeConfig({ KUBECONFIG: `${dir}/config`, PATH: Deno.env.get("PATH") });
    assert.equal(await kc.authorization(), "Bearer from-exec");
  });
});

Deno.test("loadKubeConfig() rejects what it cannot honour in one line", async () => {
  await withDir(async (dir) => {
    const cases: [string, string, RegExp][] = [
      [
        "insecure",
        kubeconfig({
          "insecure-skip-tls-verify": true,
          "certificate-authority-data": b64(CA),
        }, { token: "t" }),
        /^KUBECONFIG: .*\/insecure: cluster "c" sets both insecure-skip-tls-verify and a certificate-authority: give one of them$/,
      ],
      [
        "socks",
        kubeconfig({ "proxy-url": "socks5://127.0.0.1:1080" }, { token: "t" }),
        /^KUBECONFIG: .*: cluster "c": proxy-url "socks5:\/\/127\.0\.0\.1:1080" is not supported \(only http:\/\/ proxies/,
      ],
      [
        "groupsonly",
        kubeconfig({}, { token: "t", "as-groups": ["g"] }),
        /^KUBECONFIG: .*\/groupsonly: as-groups, as-uid or as-user-extra need as/,
      ],
      [
        "halfcert",
        kubeconfig({}, { "client-certificate-data": b64(CERT) }),
        /^KUBECONFIG: .*: user "u" needs both client-certificate and client-key$/,
      ],
      [
        "missingca",
        kubeconfig({ "certificate-authority": "nope.pem" }, { token: "t" }),
        /^KUBECONFIG: .*\/missingca: .*nope\.pem/,
      ],
      [
        "badexec",
        kubeconfig({}, {
          exec: { apiVersion: "client.authentication.k8s.io/v1", command: "false" },
        }),
        /^KUBECONFIG: .*\/badexec: user "u": exec plugin false exited with 1: $/,
      ],
      [
        "list",
        "clusters: 3\n",
        /^KUBECONFIG: .*\/list is not a valid kubeconfig: clusters is not a list$/,
      ],
    ];
    for (const [name, text, pattern] of cases) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
      await assert.rejects(
        () => loadKubeConfig({ KUBECONFIG: `${dir}/${name}`, PATH: Deno.env.get("PATH") }),
        (err: Error) => {
          assert.ok(err instanceof ConfigError, String(err));
          assert.match(err.message, pattern);
          assert.ok(!err.message.includes("\n"), err.message);
          return true;
        },
        name,
      );
    }
    await assert.rejects(
      () => loadKubeConfig({ KUBERNETES_SERVICE_HOST: "10.0.0.1" }, { serviceAccountDir: dir }),
      /ConfigError: no Kubernetes credentials: not in a pod \(KUBERNETES_SERVICE_HOST is set but .*\/token is missing\)/,
    );
    await Deno.writeTextFile(`${dir}/token`, "t");
    await assert.rejects(
      () => loadKubeConfig({ KUBERNETES_SERVICE_HOST: "10.0.0.1" }, { serviceAccountDir: dir }),
      /ConfigError: in-cluster: cannot read .*\/ca\.crt: NotFound$/,
    );
  });
});

Deno.test("in a pod, KUBECONFIG wins over the service account; an empty or missing kubeconfig falls back to it (client-go)", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/token`, "sa");
    await Deno.writeTextFile(`${dir}/ca.crt`, CA);
    await Deno.writeTextFile(`${dir}/config`, kubeconfig({}, { token: "from-kubeconfig" }));
    await Deno.writeTextFile(`${dir}/empty`, "apiVersion: v1\nkind: Config\n");
    const pod = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };
    const load = (kubeconfigEnv?: string) =>
      loadKubeConfig(
        kubeconfigEnv === undefined ? pod : { ...pod, KUBECONFIG: kubeconfigEnv },
        { serviceAccountDir: dir },
      );
    const withKubeconfig = await load(`${dir}/config`);
    assert.equal(withKubeconfig.server, "https://127.0.0.1:6443");
    assert.equal(await withKubeconfig.authorization(), "Bearer from-kubeconfig");
    // Missing files of KUBECONFIG are skipped, as kubectl does.
    const skipped = await load(`${dir}/missing:${dir}/config`);
    assert.equal(await skipped.authorization(), "Bearer from-kubeconfig");
    for (const fallback of [undefined, `${dir}/empty`, `${dir}/missing`]) {
      const kc = await load(fallback);
      assert.equal(kc.server, "https://10.96.0.1:443", String(fallback));
      assert.equal(await kc.authorization(), "Bearer sa");
    }
  });
});

Deno.test("without proxy-url the environment's HTTPS_PROXY applies (client-go), in a pod too; proxy-url wins", async () => {
  await withDir(async (dir) => {
    const P = "http://proxy.corp:3128";
    const remote = { server: "https://10.0.0.1:6443" };
    await Deno.writeTextFile(`${dir}/env`, kubeconfig(remote, { token: "t" }));
    await Deno.writeTextFile(
      `${dir}/url`,
      kubeconfig({ ...remote, "proxy-url": "http://other:8080" }, { token: "t" }),
    );
    assert.equal((await loadKubeConfig({ KUBECONFIG: `${dir}/env`, HTTPS_PROXY: P })).proxy, P);
    assert.equal(
      (await loadKubeConfig({ KUBECONFIG: `${dir}/env`, HTTPS_PROXY: P, NO_PROXY: "10.0.0.0/8" }))
        .proxy,
      undefined,
    );
    assert.equal(
      (await loadKubeConfig({ KUBECONFIG: `${dir}/url`, HTTPS_PROXY: P })).proxy,
      "http://other:8080",
    );
    await Deno.writeTextFile(`${dir}/token`, "sa");
    await Deno.writeTextFile(`${dir}/ca.crt`, CA);
    const pod = await loadKubeConfig(
      { KUBERNETES_SERVICE_HOST: "10.96.0.1", HTTPS_PROXY: P },
      { serviceAccountDir: dir },
    );
    assert.equal(pod.proxy, P);
    await assert.rejects(
      () => loadKubeConfig({ KUBECONFIG: `${dir}/env`, HTTPS_PROXY: "socks5://s:1080" }),
      /ConfigError: KUBECONFIG: .*: the proxy from HTTPS_PROXY\/HTTP_PROXY \(socks5:\/\/s:1080\) is not supported/,
    );
  });
});
