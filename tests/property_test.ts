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
import { YAML_TEXT_CAP } from "../lib/config/load.ts";
import { CONFIG_FILE_CAP } from "../lib/files/bounded_read.ts";
import { stringify as yamlStringify } from "yaml";
import { shArgv } from "./engine/sh_argv.ts";

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

Deno.test("splitInputList() never throws and returns non-empty parts without outer blanks", () => {
  fc.assert(
    fc.property(fc.oneof(shellLine, fc.string({ maxLength: 60 })), (text) => {
      for (const part of splitInputList(text)) {
        // Blanks (space, tab, newline) are trimmed, but not one a backslash escapes.
        assert.ok(part.length > 0 && !/^[ \t\n]/.test(part), JSON.stringify(part));
        assert.ok(!/[ \t\n]$/.test(part) || /\\[ \t\n]$/.test(part), JSON.stringify(part));
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

Deno.test("splitCommand() agrees with /bin/sh on every line it accepts (two environments)", async () => {
  // The safe alphabet: shell syntax, blanks sh keeps as word characters, and letters that name no
  // builtin; the lines run as `printf '%s\0' LINE` in an empty directory with PATH empty.
  const unit = fc.constantFrom(
    ..."ab z09'\"\\ $`|&;<>()~#*=?[]{}!\t\n-_.,%@^+\u00a0\u3000\r\u000b\u000c".split(""),
  );
  // A line that starts with a blank line would end `printf` before its words: not this harness.
  const line = fc.string({ unit, minLength: 1, maxLength: 24 }).filter((l) => !/^[ \t]*\n/.test(l));
  let accepted = 0;
  await fc.assert(
    fc.asyncProperty(line, async (text) => {
      let ours: string[];
      try {
        ours = splitCommand(text);
      } catch {
        return; // Refused: sh may do anything with it.
      }
      accepted++;
      const [one, two] = await Promise.all([shArgv("sh", text, 1), shArgv("sh", text, 2)]);
      assert.deepEqual(one, ours, `sh (first environment) on ${JSON.stringify(text)}`);
      assert.deepEqual(two, ours, `sh (second environment) on ${JSON.stringify(text)}`);
    }),
    runs(Math.min(NUM_RUNS, 200)),
  );
  assert.ok(accepted > 10, `only ${accepted} generated lines were accepted`);
});

/** Configs of every size up to the caps: `count` inputs and a subject `pad` characters long. */
const configSize = fc.record({
  count: fc.integer({ min: 0, max: 1000 }),
  pad: fc.integer({ min: 0, max: 300 * 1024 }),
  word: fc.string({
    unit: fc.constantFrom(..."ab 09'\"\\:#-{}[],&*!|>%@é\u00a0".split("")),
    maxLength: 8,
  }),
});

Deno.test("config of any size: JSON and YAML give one layer; over a cap, one line naming it", () => {
  fc.assert(
    fc.property(configSize, ({ count, pad, word }) => {
      const doc = {
        request: {
          subject: "s".repeat(pad),
          inputs: Array.from(
            { length: count },
            (_, i) => ({ input: `echo ${i}${word}`, name: `${word}${i}` }),
          ),
        },
      };
      const json = JSON.stringify(doc);
      const yaml = yamlStringify(doc);
      const fromJson = parseConfigText(json);
      assert.deepEqual(fromJson, doc);
      const yamlBytes = new TextEncoder().encode(yaml).byteLength;
      if (yamlBytes <= YAML_TEXT_CAP) {
        assert.deepEqual(parseConfigText(yaml), fromJson);
      } else {
        assert.throws(() => parseConfigText(yaml), (err: Error) => {
          assert.ok(err instanceof ConfigError);
          assert.match(err.message, /^config: \d+ bytes of YAML is over the 256 KiB cap for YAML/);
          return true;
        });
      }
      assert.ok(json.length < CONFIG_FILE_CAP);
      assert.equal(
        loadConfig({ layers: [{ values: fromJson, sources: new Map() }] }).request.inputs?.length ??
          0,
        count,
      );
    }),
    runs(Math.min(NUM_RUNS, 25)),
  );
});

Deno.test("config at the YAML cap: one byte under is read, one byte over is refused", () => {
  fc.assert(
    fc.property(fc.integer({ min: -64, max: 64 }), (delta) => {
      const head = "request: {subject: ";
      const text = head + "x".repeat(YAML_TEXT_CAP - head.length - 2 + delta) + "}\n";
      if (text.length <= YAML_TEXT_CAP) {
        assert.equal(parseConfigText(text).request !== undefined, true);
      } else {
        onlyThrows(ConfigError, () => parseConfigText(text));
        assert.throws(() => parseConfigText(text), /over the 256 KiB cap for YAML/);
      }
    }),
    runs(Math.min(NUM_RUNS, 30)),
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
        new Request(`http://127.0.0.1:3000/mcall/${t}/${encodeURIComponent(p)}`)
      ),
      fc.tuple(fc.constantFrom("POST", "PUT", "DELETE", "PATCH"), params, fc.boolean()).map((
        [method, p, json],
      ) =>
        new Request("http://127.0.0.1:3000/mcall", {
          method,
          headers: {
            "content-type": json ? "application/json" : "application/x-www-form-urlencoded",
          },
          body: json ? p : new URLSearchParams({ params: p, type: "cmd" }).toString(),
        })
      ),
      safe.map((path) => new Request(`http://127.0.0.1:3000/${encodeURIComponent(path)}`)),
    );
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(request, async (req) => {
        const res = await handler(req);
        seen.add(res.status);
        // 415: a POST body other than JSON (serve's guard: no form a browser can send cross-site).
        assert.ok([200, 400, 404, 405, 413, 415, 503].includes(res.status), String(res.status));
        const body = await res.text();
        if (res.status !== 200) assert.equal(body.trim().split("\n").length, 1, body);
      }),
      runs(Math.min(NUM_RUNS, 150)),
    );
    // The generators reach the handler's main paths, not only its early rejections.
    for (const status of [200, 400, 404, 405, 415]) {
      assert.ok(seen.has(status), `no ${status} seen`);
    }
    const big = await handler(
      new Request("http://127.0.0.1:3000/mcall", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "x".repeat(MAX_BODY_BYTES + 1),
      }),
    );
    assert.equal(big.status, 413);
    await big.body?.cancel();
  } finally {
    if (oldPath === undefined) Deno.env.delete("PATH");
    else Deno.env.set("PATH", oldPath);
    await Deno.remove(emptyDir, { recursive: true });
  }
});
