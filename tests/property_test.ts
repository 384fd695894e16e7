/**
 * Property (fuzz) tests with fast-check: random input never throws past the documented errors.
 * A bounded number of cases per property keeps CI time flat (NUM_RUNS; set MCALL_FUZZ_RUNS to
 * search harder locally).
 *
 * No generated input can reach the network or run a program: strings that become inputs are
 * drawn from an alphabet without ":" and "/" (no URL, no program path) and the serve-mode
 * property runs with PATH set to an empty directory.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseCli } from "../lib/cli/args.ts";
import { ConfigError } from "../lib/config/layer.ts";
import { envLayer, leaves, loadConfig, loadYaml, parseConfigText } from "../lib/config/load.ts";
import { checkContent, judge, parseExpect } from "../lib/engine/expect.ts";
import { splitInputList } from "../lib/engine/input.ts";
import { MAX_BODY_BYTES, mcallHandler } from "../lib/modes/serve.ts";
import { splitCommand } from "../lib/engine/shellwords.ts";

// The config loaders parse YAML with the lazily loaded parser (readConfigFile loads it first).
await loadYaml();

const NUM_RUNS = Number(Deno.env.get("MCALL_FUZZ_RUNS") ?? "300");
const runs = (n = NUM_RUNS) => ({ numRuns: n });

/** Asserts `fn` returns or throws an instance of `type` whose message is one line. */
function onlyThrows(type: new (...args: never[]) => Error, fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof type)) throw err;
    assert.ok(!err.message.includes("\n"), `one-line message: ${JSON.stringify(err.message)}`);
  }
}

/** Characters that shell lines, YAML and JSON care about, plus a few ordinary ones. */
const SHELLISH = fc.constantFrom(
  ..."ab z09'\"\\ $`|&;<>()~#*=?[]{}!\t\n-_.,%@^+".split(""),
);
const shellLine = fc.string({ unit: SHELLISH, maxLength: 40 });

Deno.test("splitCommand() returns words or throws a one-line TypeError, for any line", () => {
  fc.assert(
    fc.property(fc.oneof(shellLine, fc.string({ maxLength: 40 })), (line) => {
      try {
        const words = splitCommand(line);
        assert.ok(words.length >= 1);
      } catch (err) {
        assert.ok(err instanceof TypeError, String(err));
        assert.ok(!err.message.includes("\n"));
      }
    }),
    runs(),
  );
});

Deno.test("splitCommand() gives back single-quoted words unchanged", () => {
  const word = fc.string({ minLength: 0, maxLength: 12 }).filter((w) => !w.includes("'"));
  fc.assert(
    fc.property(fc.array(word, { minLength: 1, maxLength: 6 }), (words) => {
      const line = ["echo", ...words].map((w) => `'${w}'`).join(" ");
      assert.deepEqual(splitCommand(line), ["echo", ...words]);
    }),
    runs(),
  );
});

Deno.test("splitInputList() never throws and returns trimmed non-empty parts", () => {
  fc.assert(
    fc.property(fc.oneof(shellLine, fc.string({ maxLength: 60 })), (text) => {
      for (const part of splitInputList(text)) {
        assert.ok(part.length > 0 && part === part.trim());
      }
    }),
    runs(),
  );
});

const EXPECTISH = fc.constantFrom(
  ..."$count status=<>!=|/ 0123456789xX ab^$.*+?()[]{}\\dgimsuvy-".split(""),
);

Deno.test("parseExpect() parses or throws a one-line TypeError; judging never throws", () => {
  const text = fc.oneof(
    fc.string({ unit: EXPECTISH, maxLength: 24 }),
    fc.string({ maxLength: 24 }),
  );
  const output = fc.string({ maxLength: 40 });
  fc.assert(
    fc.property(text, output, fc.integer({ min: -1, max: 600 }), (t, out, code) => {
      let expect;
      try {
        expect = parseExpect(t);
      } catch (err) {
        assert.ok(err instanceof TypeError, String(err));
        assert.ok(!err.message.includes("\n"), JSON.stringify(err.message));
        return;
      }
      // A regex from random text could backtrack badly: exec.ts runs those in a Worker with a
      // timeout; here only the other forms are judged on the main thread.
      if (expect.kind === "regex") return;
      checkContent(expect, out);
      judge({ type: "cmd", output: out, exitCode: code, status: null }, expect);
      judge({ type: "get", output: out, exitCode: null, status: code }, expect);
    }),
    runs(),
  );
});

Deno.test("parseConfigText() + loadConfig() accept or throw a one-line ConfigError, for any text", () => {
  const yamlish = fc.string({
    unit: fc.constantFrom(..."request:inputs-[]{}, \n\"'#&*!|>%@`0123456789abcnull".split("")),
    maxLength: 60,
  });
  fc.assert(
    fc.property(fc.oneof(yamlish, fc.string({ maxLength: 60 })), (text) => {
      onlyThrows(
        ConfigError,
        () => loadConfig({ layers: [{ values: parseConfigText(text), sources: new Map() }] }),
      );
    }),
    runs(),
  );
});

/** Random trees over the real config paths, with values of every JSON kind. */
const paths = leaves().map((l) => l.path);
const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom("10s", "0", "-1", "1e400", "99999999999999999999", "", "true", "DEBUG"),
  fc.double(),
  fc.bigInt().map(Number),
);
const configTree = fc.dictionary(fc.constantFrom(...paths, "request.es", "nope"), anyValue, {
  maxKeys: 6,
}).map((flat) => {
  const tree: Record<string, Record<string, unknown>> = {};
  for (const [path, value] of Object.entries(flat)) {
    const [section, ...rest] = path.split(".");
    (tree[section!] ??= {})[rest.join(".")] = value;
  }
  return tree;
});

Deno.test("loadConfig() accepts or throws a one-line ConfigError, for any tree of settings", () => {
  fc.assert(
    fc.property(configTree, (values) => {
      onlyThrows(ConfigError, () => loadConfig({ layers: [{ values, sources: new Map() }] }));
    }),
    runs(),
  );
});

Deno.test("envLayer() + loadConfig() accept or throw a one-line ConfigError, for any environment", () => {
  const names = paths.map((p) =>
    "MCALL_" + p.split(".").map((k) => k.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase())
      .join("_")
  );
  const env = fc.dictionary(
    fc.oneof(fc.constantFrom(...names, "LEADER_ELECTION", "MCALL_WORKER_NUM"), fc.string()),
    fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom("[1]", "{a: b}", "true", "5s")),
    { maxKeys: 5 },
  );
  fc.assert(
    fc.property(env, (e) => {
      onlyThrows(ConfigError, () => loadConfig({ layers: [envLayer(e)] }));
    }),
    runs(),
  );
});

Deno.test("parseCli() parses or throws a one-line ConfigError, for any argv", () => {
  const arg = fc.oneof(
    fc.constantFrom("-i", "-w", "-worker", "-lf", "--port", "-f=plain", "-w=maybe", "--", "-e="),
    fc.string({ maxLength: 10 }),
    fc.string({ maxLength: 8 }).map((s) => `-${s}`),
    fc.string({ maxLength: 8 }).map((s) => `--${s}=${s}`),
  );
  fc.assert(
    fc.property(fc.array(arg, { maxLength: 6 }), (args) => {
      onlyThrows(ConfigError, () => loadConfig({ layers: [parseCli(args).layer] }));
    }),
    runs(),
  );
});

Deno.test("mcallHandler() answers every request with a documented status, never throws", async () => {
  const emptyDir = await Deno.makeTempDir();
  const oldPath = Deno.env.get("PATH");
  Deno.env.set("PATH", emptyDir);
  try {
    const config = loadConfig({
      layers: [{ values: { log: { level: "error" }, worker: { number: 2 } }, sources: new Map() }],
    });
    const handler = mcallHandler(config, undefined);
    const safe = fc.string({
      unit: fc.constantFrom(..."ab z09-_.'\"$|%=&{}[],\\".split("")),
      maxLength: 16,
    });
    const inputs = fc.array(
      fc.record({ input: safe, type: fc.constantFrom("cmd", "get", "post", "x") }, {
        requiredKeys: ["input"],
      }),
      { maxLength: 3 },
    );
    const params = fc.oneof(
      safe,
      inputs.map((i) => JSON.stringify({ inputs: i })),
      inputs.map((i) => btoa(JSON.stringify({ inputs: i }))),
    );
    const request = fc.oneof(
      fc.tuple(fc.constantFrom("cmd", "get", "post", "x%", "%E0"), params).map(([t, p]) =>
        new Request(`http://x/mcall/${t}/${encodeURIComponent(p)}`)
      ),
      fc.tuple(fc.constantFrom("POST", "PUT", "DELETE", "PATCH"), params, fc.boolean()).map((
        [method, p, json],
      ) =>
        new Request("http://x/mcall", {
          method,
          headers: {
            "content-type": json ? "application/json" : "application/x-www-form-urlencoded",
          },
          body: json ? p : new URLSearchParams({ params: p, type: "cmd" }).toString(),
        })
      ),
      safe.map((path) => new Request(`http://x/${encodeURIComponent(path)}`)),
    );
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(request, async (req) => {
        const res = await handler(req);
        seen.add(res.status);
        assert.ok([200, 400, 404, 405, 413, 503].includes(res.status), String(res.status));
        const body = await res.text();
        if (res.status !== 200) assert.equal(body.trim().split("\n").length, 1, body);
      }),
      runs(Math.min(NUM_RUNS, 150)),
    );
    // The generators reach the handler's main paths, not only its early rejections.
    for (const status of [200, 400, 404, 405]) assert.ok(seen.has(status), `no ${status} seen`);
    const big = await handler(
      new Request("http://x/mcall", { method: "POST", body: "x".repeat(MAX_BODY_BYTES + 1) }),
    );
    assert.equal(big.status, 413);
    await big.body?.cancel();
  } finally {
    if (oldPath === undefined) Deno.env.delete("PATH");
    else Deno.env.set("PATH", oldPath);
    await Deno.remove(emptyDir, { recursive: true });
  }
});
