/**
 * No web page can drive serve mode (issue 23 item 1), proven with a real headless browser:
 * Debian's Chromium loads a page from another loopback origin (127.0.0.2) that tries every request
 * a page can make the browser send to serve mode on 127.0.0.1 — form POSTs of the three encodings
 * a form can use, `<img>`, `<script>` and `<iframe>` GETs, a WebSocket, `fetch` in `no-cors` mode,
 * a preflighted JSON `fetch` — plus a DNS-rebound name (`--host-resolver-rules` maps it to
 * 127.0.0.1 inside the browser; no DNS query is made). Each vector would `touch` its own marker file; none may exist.
 * Controls: the same requests from a permitted client (curl-like `fetch` here, a URL typed into the
 * browser) do run.
 *
 * Chromium never reaches the network: it is started with the flags that turn off its background
 * requests, and every URL it loads is on 127.0.0.0/8. On CI (`REQUIRE_E2E=1`) a missing Chromium
 * fails the test; elsewhere the test is skipped loudly.
 */
import assert from "node:assert/strict";
import { loadConfig, loadYaml, parseConfigText } from "../../lib/config/load.ts";
import { serveMcall } from "../../lib/modes/serve.ts";

const CHROMIUM = "/usr/bin/chromium";
const required = Deno.env.get("REQUIRE_E2E") === "1";
const present = await Deno.stat(CHROMIUM).then(() => true, () => false);
if (!present && !required) {
  console.warn(
    `%cSKIPPED serve_browser_test: ${CHROMIUM} is missing (run scripts/browser-deps.sh)`,
    "color: red",
  );
}

await loadYaml();
const config = loadConfig({
  layers: [{ values: parseConfigText("log: {level: error}"), sources: new Map() }],
});

/** Runs Chromium headless on `url` with its own profile; resolves when it exits or is killed. */
function chromium(url: string, extra: string[] = []) {
  const profile = Deno.makeTempDirSync({ prefix: "serve-browser-" });
  const child = new Deno.Command(CHROMIUM, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-default-apps",
      "--disable-extensions",
      "--no-default-browser-check",
      "--metrics-recording-only",
      `--user-data-dir=${profile}`,
      ...extra,
      url,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const output = child.output().finally(() => Deno.remove(profile, { recursive: true }));
  return { child, output };
}

const json = (marker: string) => JSON.stringify({ inputs: [{ input: `touch ${marker}` }] });
const b64 = (text: string) => btoa(text);

/** The attacker's page: every vector, then a report of what the browser saw to `/done`. */
function attackPage(target: string, dir: string): string {
  const field = (name: string, value: string) =>
    `<input name='${name}' value='${value.replace(/'/g, "&#39;")}'>`;
  const form = (id: string, enctype: string, inputs: string) =>
    `<iframe name="sink-${id}" id="sink-${id}"></iframe>` +
    `<form id="${id}" method="POST" action="${target}/mcall" enctype="${enctype}" ` +
    `target="sink-${id}">${inputs}</form>`;
  return `<!doctype html><meta charset="utf-8"><body>
${
    form(
      "form-urlencoded",
      "application/x-www-form-urlencoded",
      field("type", "cmd") + field("params", json(`${dir}/form-urlencoded`)),
    )
  }
${
    form(
      "form-multipart",
      "multipart/form-data",
      field("type", "cmd") + field("params", json(`${dir}/form-multipart`)),
    )
  }
${form("form-text", "text/plain", field("params", json(`${dir}/form-text`)))}
<script>
const T = ${JSON.stringify(target)};
const seen = {};
const loaded = (el) => new Promise((r) => { el.onload = () => r("load"); el.onerror = () => r("error"); });
async function main() {
  for (const id of ["form-urlencoded", "form-multipart", "form-text"]) {
    const done = loaded(document.getElementById("sink-" + id));
    document.getElementById(id).submit();
    seen[id] = await Promise.race([done, new Promise((r) => setTimeout(() => r("timeout"), 3000))]);
  }
  const img = new Image();
  const imgDone = loaded(img);
  img.src = T + "/mcall/cmd/" + ${JSON.stringify(b64(json(`${dir}/img`)))};
  seen.img = await imgDone;
  const script = document.createElement("script");
  const scriptDone = loaded(script);
  script.src = T + "/mcall/cmd/" + ${JSON.stringify(encodeURIComponent(json(`${dir}/script`)))};
  document.body.appendChild(script);
  seen.script = await scriptDone;
  const frame = document.createElement("iframe");
  const frameDone = loaded(frame);
  frame.src = T + "/mcall/cmd/" + ${JSON.stringify(b64(json(`${dir}/iframe`)))};
  document.body.appendChild(frame);
  seen.iframe = await Promise.race([frameDone, new Promise((r) => setTimeout(() => r("timeout"), 3000))]);
  seen.websocket = await new Promise((r) => {
    const ws = new WebSocket(T.replace("http:", "ws:") + "/mcall/cmd/" + ${
    JSON.stringify(b64(json(`${dir}/websocket`)))
  });
    ws.onopen = () => r("open");
    ws.onerror = () => r("error");
  });
  const attempt = async (name, url, init) => {
    try { const r = await fetch(url, init); seen[name] = r.type + " " + r.status; }
    catch (e) { seen[name] = "error " + e.message; }
  };
  await attempt("fetch-no-cors-get", T + "/mcall/cmd/" + ${
    JSON.stringify(b64(json(`${dir}/fetch-no-cors-get`)))
  }, { mode: "no-cors" });
  await attempt("fetch-no-cors-post", T + "/mcall", { mode: "no-cors", method: "POST",
    headers: { "content-type": "text/plain" }, body: ${
    JSON.stringify(
      JSON.stringify({ type: "cmd", inputs: [{ input: `touch ${dir}/fetch-no-cors-post` }] }),
    )
  } });
  await attempt("fetch-no-cors-form", T + "/mcall", { mode: "no-cors", method: "POST",
    body: new URLSearchParams({ params: ${JSON.stringify(json(`${dir}/fetch-no-cors-form`))} }) });
  await attempt("fetch-cors-json", T + "/mcall", { method: "POST",
    headers: { "content-type": "application/json" }, body: ${
    JSON.stringify(
      JSON.stringify({ type: "cmd", inputs: [{ input: `touch ${dir}/fetch-cors-json` }] }),
    )
  } });
  await attempt("fetch-rebound", "http://rebound.test:" + new URL(T).port + "/mcall/cmd/" + ${
    JSON.stringify(b64(json(`${dir}/fetch-rebound`)))
  }, { mode: "no-cors" });
  await fetch("/done", { method: "POST", body: JSON.stringify(seen) });
}
main().catch((e) => fetch("/done", { method: "POST", body: "page error: " + e }));
</script>`;
}

const VECTORS = [
  "form-urlencoded",
  "form-multipart",
  "form-text",
  "img",
  "script",
  "iframe",
  "websocket",
  "fetch-no-cors-get",
  "fetch-no-cors-post",
  "fetch-no-cors-form",
  "fetch-cors-json",
  "fetch-rebound",
];

Deno.test({
  name: "serve: no request a page on another origin makes Chromium send runs anything",
  ignore: !present && !required,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(present, `${CHROMIUM} is missing and REQUIRE_E2E=1 requires this test`);
    const dir = await Deno.makeTempDir();
    const stop = new AbortController();
    const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
    const cfg = { ...config, webserver: { ...config.webserver, port: 0 } };
    const serving = serveMcall(cfg, {}, stop.signal, resolve);
    const target = `http://127.0.0.1:${(await listening).port}`;
    const { promise: report, resolve: reported } = Promise.withResolvers<string>();
    const page = attackPage(target, dir);
    const attacker = Deno.serve({ hostname: "127.0.0.2", port: 0, onListen() {} }, async (req) => {
      if (new URL(req.url).pathname === "/done") reported(await req.text());
      return new Response(page, { headers: { "content-type": "text/html; charset=utf-8" } });
    });
    const rules = ["--host-resolver-rules=MAP rebound.test 127.0.0.1"];
    const markers = () => [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    try {
      const browser = chromium(`http://127.0.0.2:${attacker.addr.port}/`, rules);
      const seen = await Promise.race([
        report,
        new Promise<string>((r) => setTimeout(() => r("no report within 60 s"), 60_000)),
      ]);
      browser.child.kill("SIGTERM");
      await browser.output;
      const outcome = JSON.parse(seen) as Record<string, string>;
      assert.deepEqual(Object.keys(outcome).sort(), [...VECTORS].sort(), seen);
      assert.deepEqual(markers(), [], `vectors that ran a command; the browser saw ${seen}`);

      // A URL typed into the browser under a rebound name: Host names rebound.test.
      const rebound = json(`${dir}/typed-rebound`);
      await chromium(`http://rebound.test:${new URL(target).port}/mcall/cmd/${b64(rebound)}`, [
        ...rules,
        "--dump-dom",
      ]).output;
      assert.deepEqual(markers(), []);

      // Controls: the browser's requests do reach the server, and a permitted request runs —
      // a URL typed into the browser, and each vector's request sent as curl would.
      const typed = json(`${dir}/typed`);
      const dom = await chromium(`${target}/mcall/cmd/${b64(typed)}`, ["--dump-dom"]).output;
      assert.match(new TextDecoder().decode(dom.stdout), /"errorCode":"0"/);
      assert.deepEqual(markers(), ["typed"]);
      const gets = ["img", "script", "iframe", "websocket", "fetch-no-cors-get", "fetch-rebound"];
      for (const vector of gets) {
        const res = await fetch(`${target}/mcall/cmd/${b64(json(`${dir}/${vector}`))}`);
        assert.equal(res.status, 200);
        await res.body?.cancel();
      }
      for (const vector of VECTORS.filter((v) => !gets.includes(v))) {
        const res = await fetch(`${target}/mcall`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: json(`${dir}/${vector}`),
        });
        assert.equal(res.status, 200, vector);
        await res.body?.cancel();
      }
      assert.deepEqual(markers(), [...VECTORS, "typed"].sort());
    } finally {
      stop.abort();
      await serving;
      await attacker.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
