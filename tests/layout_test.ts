/**
 * The layout of `lib/` is a rule with one home: each folder's README.md says what the folder owns
 * and, on its `May import:` line, which folders it may import. This test reads those lines and
 * checks every import in `lib/` against them, plus the rules that keep the layout honest: no file
 * directly in `lib/`, no re-export blocks, the Kubernetes client only in `lib/kube/` and no
 * module-level state there, the current time read only in `lib/time/`, durations named with their unit, and files under the size a
 * reader can hold.
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigSchema, InputSchema } from "../lib/config/schema.ts";
import { isDuration } from "../lib/config/units.ts";
import { fields } from "../lib/config/fields.ts";

const LIB = fileURLToPath(new URL("../lib/", import.meta.url));

/** Longest a lib file may be, in lines. */
const MAX_LINES = 400;

interface Rule {
  /** Folder → how it may be imported: all of it, only its types, or only its pure files. */
  readonly allowed: Map<string, "all" | "types" | "pure">;
  /** Files of this folder any folder may import (they import nothing from lib/). */
  readonly pure: Set<string>;
}

function folders(): string[] {
  return [...Deno.readDirSync(LIB)].filter((e) => e.isDirectory).map((e) => e.name).sort();
}

function readRule(folder: string): Rule {
  const doc = Deno.readTextFileSync(join(LIB, folder, "README.md"));
  // The line may wrap (deno fmt wraps Markdown at 100 columns): it ends at a blank line.
  const line = /^May import: (.+(?:\n.+)*)$/m.exec(doc)?.map((m) => m.replaceAll("\n", " "));
  assert.ok(line, `lib/${folder}/README.md has no "May import:" line`);
  const allowed = new Map<string, "all" | "types" | "pure">();
  if (line[1]!.trim() !== "nothing") {
    for (const part of line[1]!.split(",")) {
      const m = /^\s*([a-z]+)(?: \((types only|pure files)\))?\s*$/.exec(part);
      assert.ok(m, `lib/${folder}/README.md: cannot read "${part.trim()}"`);
      allowed.set(m[1]!, m[2] === "types only" ? "types" : m[2] === "pure files" ? "pure" : "all");
    }
  }
  const pureLine = /^Pure files[^:]*: (.+)$/m.exec(doc);
  const pure = new Set(pureLine ? pureLine[1]!.split(",").map((s) => s.trim()) : []);
  return { allowed, pure };
}

function libFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const p = join(dir, e.name);
      if (e.isDirectory) walk(p);
      else if (e.name.endsWith(".ts")) out.push(p);
    }
  };
  walk(LIB);
  return out.sort();
}

/** Lines of code: the file without its comments (JSDoc examples import things too). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

interface Import {
  readonly spec: string;
  readonly typeOnly: boolean;
}

function imports(text: string): Import[] {
  const out: Import[] = [];
  const src = code(text);
  for (const m of src.matchAll(/^(import|export)\s+(type\s+)?([\s\S]*?)\s+from\s+"([^"]+)"/gm)) {
    const names = m[3]!;
    const allTypes = m[2] !== undefined ||
      (/^\{[\s\S]*\}$/.test(names) &&
        names.slice(1, -1).split(",").map((s) => s.trim()).filter(Boolean)
          .every((s) => s.startsWith("type ")));
    out.push({ spec: m[4]!, typeOnly: allTypes });
  }
  for (const m of src.matchAll(/^import\s+"([^"]+)"/gm)) out.push({ spec: m[1]!, typeOnly: false });
  for (const m of src.matchAll(/import\(\s*"([^"]+)"\s*\)/g)) {
    out.push({ spec: m[1]!, typeOnly: false });
  }
  return out;
}

const FOLDERS = folders();
const RULES = new Map(FOLDERS.map((f) => [f, readRule(f)]));
const FILES = libFiles();

Deno.test("layout: lib/ holds only concept folders, each with a README saying what it owns", () => {
  const loose = [...Deno.readDirSync(LIB)].filter((e) => e.isFile).map((e) => e.name);
  assert.deepEqual(loose, [], "files directly in lib/");
  assert.ok(FOLDERS.length >= 8, `only ${FOLDERS.length} folders`);
  for (const f of FOLDERS) {
    const doc = Deno.readTextFileSync(join(LIB, f, "README.md"));
    const owns = doc.split("\n").slice(1).join("\n").trim().split("\n\n")[0]!;
    assert.ok(owns.length > 40, `lib/${f}/README.md should say what the folder owns`);
    for (const [dep] of RULES.get(f)!.allowed) {
      assert.ok(RULES.has(dep), `lib/${f}/README.md allows unknown folder "${dep}"`);
    }
  }
});

Deno.test("layout: every import across folders is one the importing folder's README allows", () => {
  const problems: string[] = [];
  for (const file of FILES) {
    const from = relative(LIB, file).split("/")[0]!;
    const rule = RULES.get(from)!;
    for (const imp of imports(Deno.readTextFileSync(file))) {
      if (!imp.spec.startsWith(".")) continue;
      const target = resolve(dirname(file), imp.spec);
      const rel = relative(LIB, target);
      assert.ok(!rel.startsWith(".."), `${relative(LIB, file)} imports outside lib/: ${imp.spec}`);
      const [to, name] = rel.split("/");
      if (to === from) continue;
      const how = rule.allowed.get(to!);
      const pure = RULES.get(to!)?.pure.has(name!) ?? false;
      const ok = pure || how === "all" || (how === "types" && imp.typeOnly);
      if (!ok) problems.push(`lib/${relative(LIB, file)} → lib/${rel}`);
    }
  }
  assert.deepEqual(problems, [], "imports the folders' README.md files do not allow");
});

Deno.test("layout: the task protocol's two roles never import each other", () => {
  // planner/ (the leader's side) and worker/ (every pod's) meet only in tasks/' contract.
  for (const [a, b] of [["planner", "worker"], ["worker", "planner"]] as const) {
    assert.ok(RULES.has(a), `lib/${a}/ is missing`);
    assert.equal(RULES.get(a)!.allowed.has(b), false, `lib/${a}/README.md allows ${b}`);
    assert.ok(RULES.get(a)!.allowed.has("tasks"), `lib/${a}/README.md should allow tasks`);
  }
  assert.equal(RULES.get("tasks")!.allowed.has("planner"), false);
  assert.equal(RULES.get("tasks")!.allowed.has("worker"), false);
});

Deno.test("layout: the folders form no cycle (the README order, bottom up)", () => {
  // Edges from the May import lines; a DFS finds any cycle.
  const seen = new Map<string, "open" | "done">();
  const visit = (f: string, path: string[]): void => {
    if (seen.get(f) === "done") return;
    assert.notEqual(seen.get(f), "open", `cycle: ${[...path, f].join(" → ")}`);
    seen.set(f, "open");
    for (const [dep, how] of RULES.get(f)!.allowed) if (how === "all") visit(dep, [...path, f]);
    seen.set(f, "done");
  };
  for (const f of FOLDERS) visit(f, []);
});

Deno.test("layout: pure files import nothing and do no I/O", () => {
  for (const [folder, rule] of RULES) {
    for (const name of rule.pure) {
      const text = code(Deno.readTextFileSync(join(LIB, folder, name)));
      assert.deepEqual(imports(text).map((i) => i.spec), [], `lib/${folder}/${name} imports`);
      assert.doesNotMatch(text, /\bDeno\.|\bfetch\(/, `lib/${folder}/${name} does I/O`);
    }
  }
});

Deno.test("layout: no re-export blocks; a name is imported from the file that defines it", () => {
  const found = FILES.flatMap((file) =>
    [...code(Deno.readTextFileSync(file)).matchAll(/^export\s+(?:type\s+)?(?:\{|\*)[^;]*from\s/gm)]
      .map(() => relative(LIB, file))
  );
  assert.deepEqual(found, [], "re-export blocks");
});

Deno.test("layout: only lib/kube/ imports the Kubernetes client", () => {
  const outside = FILES.filter((f) => !relative(LIB, f).startsWith("kube/"))
    .filter((f) => imports(Deno.readTextFileSync(f)).some((i) => i.spec.includes("client-node")))
    .map((f) => relative(LIB, f));
  assert.deepEqual(outside, []);
});

/**
 * Every way to read the current time or start a timer: `Date.now` (called or passed as a value),
 * `Date()` and `new Date()` without arguments, `performance.now`, `Temporal.Now`, the runtime's
 * timers (`setTimeout`, `setInterval`, `setImmediate`, their `clear…`, bare, imported from
 * `node:timers` or through `globalThis`) and `AbortSignal.timeout`. A `Clock`'s own methods
 * (`clock.setTimeout(…)`) are member accesses and do not match.
 */
const TIME_READS = new RegExp(
  [
    /\bDate\.now\b/,
    /(?<![.\w$#])(?:new\s+)?Date\s*\(\s*\)/,
    /\bperformance\s*\.\s*now\b/,
    /\bTemporal\s*\.\s*Now\b/,
    /(?<![.\w$#])(?:set|clear)(?:Timeout|Interval|Immediate)\b/,
    /\b(?:globalThis|window|self)\s*\.\s*(?:set|clear)(?:Timeout|Interval|Immediate)\b/,
    /\bAbortSignal\s*\.\s*timeout\b/,
    /["']node:timers(?:\/promises)?["']/,
  ].map((r) => r.source).join("|"),
  "g",
);

/** Files outside lib/time/ allowed a timer, each with the reason in a comment at the call. */
const TIMER_ALLOWED = new Map([
  ["engine/spawn_gate.ts", "setTimeout(…, 0) marks an event-loop turn, not a span of time"],
]);

Deno.test("layout: the time-reading pattern finds every way to read the time or start a timer", () => {
  const hits = [
    "Date.now()",
    "const f = Date.now;",
    "new Date()",
    "Date()",
    "performance.now()",
    "Temporal.Now.instant()",
    "setTimeout(f, 1)",
    "clearTimeout(t)",
    "setInterval(f, 1)",
    "setImmediate(f)",
    "globalThis.setTimeout(f, 1)",
    "AbortSignal.timeout(5)",
    'import { setTimeout } from "node:timers/promises";',
    "let t: ReturnType<typeof setTimeout>;",
  ];
  const misses = [
    "clock.setTimeout(f, 1)",
    "this.#clock.clearTimeout(t)",
    "new Date(ms)",
    "clock.now()",
    "x.wallNow()",
    "systemClock.sleep(1)",
  ];
  for (const text of hits) assert.match(text, new RegExp(TIME_READS.source), text);
  for (const text of misses) assert.doesNotMatch(text, new RegExp(TIME_READS.source), text);
});

Deno.test("layout: only lib/time/ reads the current time or starts timers", () => {
  const outside = FILES.filter((f) => !relative(LIB, f).startsWith("time/"))
    .flatMap((f) =>
      [...code(Deno.readTextFileSync(f)).matchAll(TIME_READS)].map((m) =>
        `${relative(LIB, f)}: ${m[0]}`
      )
    )
    .filter((hit) => {
      const [file, what] = hit.split(": ");
      return !(TIMER_ALLOWED.has(file!) && /^setTimeout$/.test(what!));
    });
  assert.deepEqual(outside, [], "reads of the time or timers outside lib/time/ (use a Clock)");
});

/**
 * Module-level mutable state: a `let`/`var`, or a `const` holding a new collection (`new Map`,
 * `Set`, `WeakMap`, `WeakSet`, `Array`, an empty `[]` or `{}`) at the top level of a file. Kept out
 * of lib/kube/: what a client holds (a connection pool, what calls were allowed) belongs to the
 * object its creator owns and closes (`KubeConnection`, `JsonApi`), not to the process. Other
 * folders keep per-process caches (a program's path, a parsed cron, a lazily imported module).
 */
const MODULE_STATE = new RegExp(
  [
    /^(?:export\s+)?(?:let|var)\s/,
    /^(?:export\s+)?const\s+[\w$]+\s*(?::[^=]+)?=\s*new\s+(?:Map|Set|WeakMap|WeakSet|Array)\b/,
    /^(?:export\s+)?const\s+[\w$]+\s*(?::[^=]+)?=\s*(?:\[\s*\]|\{\s*\})\s*;/,
  ].map((r) => r.source).join("|"),
  "gm",
);

Deno.test("layout: the module-state pattern finds top-level mutable state, not constants", () => {
  const hits = [
    "const pools = new Map<string, Pool>();",
    "const poolKeys = new WeakMap<KubeConfig, string>();",
    "const http1Only = new WeakSet<k8s.KubeConfig>();",
    "export const granted: Set<string> = new Set();",
    "let launcher: string | undefined;",
    "var n = 0;",
    "const cache: Record<string, string> = {};",
    "const seen: string[] = [];",
  ];
  const misses = [
    "  const pools = new Map<string, Pool>();",
    "  let key = poolKeys.get(kc);",
    'const HTTP1_ONLY = Symbol("http1Only");',
    "export const HTTP2 = true;",
    'const API_VERSION: Record<string, string> = { ConfigMap: "v1" };',
    'const SHELLS = new RegExp("x");',
  ];
  for (const text of hits) assert.match(text, new RegExp(MODULE_STATE.source, "m"), text);
  for (const text of misses) assert.doesNotMatch(text, new RegExp(MODULE_STATE.source, "m"), text);
});

Deno.test("layout: lib/kube/ keeps no module-level mutable state (its creator owns it)", () => {
  const found = FILES.filter((f) => relative(LIB, f).startsWith("kube/"))
    .flatMap((f) =>
      [...code(Deno.readTextFileSync(f)).matchAll(MODULE_STATE)].map((m) =>
        `${relative(LIB, f)}: ${m[0]}`
      )
    );
  assert.deepEqual(found, [], "module-level state in lib/kube/");
});

Deno.test(`layout: lib files stay under ${MAX_LINES} lines`, () => {
  const long = FILES.map((f) => [relative(LIB, f), Deno.readTextFileSync(f).split("\n").length])
    .filter(([, n]) => (n as number) > MAX_LINES + 1);
  assert.deepEqual(long, [], "files over the limit");
});

/** A name for a span of time (not a point in time): it must say its unit. */
const SPAN = /(timeout|interval|period|deadline|grace|delay|duration|backoff)$/i;
/** The units a span's name may end in. */
const UNIT = /(Ms|S|Seconds)$/;

Deno.test("layout: the parsed Config names every duration with its unit (…Ms), and only those", () => {
  // The user's keys (`tasks.interval: 30s`) are an API and stay; the parsed Config holds the same
  // field as `intervalMs` (a Millis). Rule: a field built by duration() is parsed as `<key>Ms`, no
  // other field ends in Ms, and no other numeric field is named for a span of time.
  const parsedInput = InputSchema.parse({ input: "x", timeout: "1s", interval: "10s" });
  const samples: [string, ReturnType<typeof fields>, Record<string, unknown>][] = [
    ["config", fields(ConfigSchema), ConfigSchema.parse({})],
    ["input", fields(InputSchema), parsedInput],
  ];
  const problems: string[] = [];
  let durations = 0;
  for (const [what, leaves, parsed] of samples) {
    for (const f of leaves) {
      const keys = f.path.split(".");
      const key = keys.pop()!;
      const parent = keys.reduce<Record<string, unknown>>(
        (o, k) => o[k] as Record<string, unknown>,
        parsed,
      );
      if (f.layers.some(isDuration)) {
        durations++;
        if (!(`${key}Ms` in parent) || key in parent) {
          problems.push(`${what} ${f.path}: a duration, parsed as ${Object.keys(parent)}`);
        }
      } else if (key.endsWith("Ms") || (f.kind === "number" && SPAN.test(key))) {
        problems.push(`${what} ${f.path}: not a duration() field`);
      }
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(durations >= 10, `only ${durations} duration fields found`);
});

Deno.test("layout: a number named for a span of time says its unit", () => {
  // `timeout: number` hides whether it is seconds or milliseconds; `timeoutMs` does not.
  const found = FILES.flatMap((file) =>
    [...code(Deno.readTextFileSync(file)).matchAll(/\b(\w+)\??\s*:\s*(?:number|Millis)\b/g)]
      .map((m) => m[1]!)
      .filter((name) => SPAN.test(name) && !UNIT.test(name))
      .map((name) => `${relative(LIB, file)}: ${name}`)
  );
  assert.deepEqual(found, [], "spans of time without a unit in their name");
});
