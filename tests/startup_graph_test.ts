/**
 * Start-up structure (issue 12): what `main.ts` loads before it runs anything. `deno info --json`
 * gives the module graph with each import marked static or dynamic; these tests follow static
 * imports only, as the runtime loads them. Speed itself is measured by `bench/startup.ts`.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MAIN = new URL("../main.ts", import.meta.url).href;
/** A lib module's URL; throws when the file does not exist, so no assertion below holds vacuously. */
const lib = (name: string) => {
  const url = new URL(`../lib/${name}`, import.meta.url);
  Deno.statSync(url);
  return url.href;
};

interface Info {
  modules: {
    specifier: string;
    dependencies?: { code?: { specifier?: string }; isDynamic?: boolean }[];
  }[];
  redirects: Record<string, string>;
}

const info: Info = JSON.parse(
  new TextDecoder().decode(
    (await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "main.ts"],
      cwd: ROOT,
      stdout: "piped",
      stderr: "inherit",
    }).output()).stdout,
  ),
);
const resolve = (s: string) => info.redirects[s] ?? s;
/** Module → its runtime imports (type-only imports have no `code`). */
const edges = new Map(info.modules.map((m) => [
  m.specifier,
  (m.dependencies ?? []).filter((d) => d.code?.specifier).map((d) => ({
    to: resolve(d.code!.specifier!),
    dynamic: d.isDynamic === true,
  })),
]));

/** Everything the runtime loads for `roots`, following static imports only. */
function staticClosure(roots: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const todo = [...roots];
  while (todo.length > 0) {
    const s = todo.pop()!;
    if (seen.has(s)) continue;
    seen.add(s);
    for (const e of edges.get(s) ?? []) if (!e.dynamic) todo.push(e.to);
  }
  return seen;
}

/** npm package names in a set of modules (`npm:/zod@4.6.7/...` → `zod`). */
function npmPackages(modules: Set<string>): string[] {
  const names = [...modules].map((s) => /^npm:\/?((?:@[^/@]+\/)?[^/@]+)@/.exec(s)?.[1])
    .filter((n): n is string => n !== undefined);
  return [...new Set(names)].sort();
}

Deno.test("a lone --version loads only the flag table; --help adds its text: no parser, npm package, Node built-in or configuration schema", () => {
  const graph = staticClosure([MAIN]);
  const local = [...graph].filter((s) => s !== MAIN).map((s) =>
    s.slice(new URL(".", MAIN).href.length)
  )
    .sort();
  assert.deepEqual(local, [
    "deno.json",
    "lib/cli/flags.ts",
    "lib/cli/interrupted.ts",
    "lib/config/layer.ts",
  ]);
  const forHelp = edges.get(MAIN)!.filter((e) => e.dynamic).map((e) => e.to);
  assert.ok(forHelp.includes(lib("cli/help.ts")), "main.ts imports lib/cli/help.ts for --help");
  const help = staticClosure([lib("cli/help.ts")]);
  assert.deepEqual(npmPackages(help), []);
  // Importing any `node:` module boots Deno's Node compatibility layer (~6 ms).
  assert.deepEqual([...help].filter((s) => s.startsWith("node:")), []);
  assert.ok(!help.has(lib("cli/args.ts")), "--help must not load the parser");
  assert.ok(!help.has(lib("config/load.ts")));
});

Deno.test("a one-shot run loads neither the Kubernetes client, metrics, YAML, logging, nor leader mode", () => {
  // What main.ts imports once the command line asks for a run, whatever the mode.
  const forRun = edges.get(MAIN)!.filter((e) => e.dynamic).map((e) => e.to);
  assert.ok(forRun.includes(lib("cli/run.ts")), "main.ts imports lib/cli/run.ts when it runs");
  const graph = staticClosure([MAIN, ...forRun]);
  assert.deepEqual(npmPackages(graph), ["zod"]);
  // No Node built-in either: the first `node:` import boots Deno's Node layer (logtape imports
  // node:util; lib/cli/run.ts imports logging only when something can log).
  assert.deepEqual([...graph].filter((s) => s.startsWith("node:")), []);
  for (
    const heavy of [
      "log/log.ts",
      "modes/leader.ts",
      "kube/api.ts",
      "modes/serve.ts",
      "observe/metrics.ts",
      "election/elector.ts",
      // node:http and node:https: a third of a run's start-up, needed only by get/post inputs.
      "engine/http_probe.ts",
    ]
  ) {
    assert.ok(!graph.has(lib(heavy)), `one-shot mode must not import lib/${heavy} statically`);
  }
  assert.ok(graph.has(lib("engine/exec.ts")));
});

Deno.test("leader mode, the server, the HTTP prober and the exec/auth-provider fallback stay in the graph as literal dynamic imports (deno compile and the image bundle them)", () => {
  const all = new Set(edges.keys());
  const lazy = [
    "modes/leader.ts",
    "kube/api.ts",
    "modes/serve.ts",
    "engine/http_probe.ts",
    "kube/client_node.ts",
  ];
  for (const name of lazy) {
    assert.ok(all.has(lib(name)));
  }
  assert.ok(npmPackages(all).includes("@kubernetes/client-node"));
  assert.ok(npmPackages(all).includes("yaml"));
});

/** Everything the runtime may load for `roots`, static and dynamic imports, minus `skip`. */
function fullClosure(roots: readonly string[], skip: ReadonlySet<string>): Set<string> {
  const seen = new Set<string>();
  const todo = [...roots];
  while (todo.length > 0) {
    const s = todo.pop()!;
    if (seen.has(s) || skip.has(s)) continue;
    seen.add(s);
    for (const e of edges.get(s) ?? []) todo.push(e.to);
  }
  return seen;
}

Deno.test("leader mode and status never load @kubernetes/client-node, but for an exec/auth-provider user", () => {
  // The fallback for kubeconfig users with `exec` or `auth-provider`, and the only lib module
  // that imports client-node; reached only by a dynamic import from the loader.
  const fallback = lib("kube/client_node.ts");
  const into = [...edges].filter(([, es]) => es.some((e) => e.to === fallback));
  assert.deepEqual(into.map(([from]) => from), [lib("kube/kubeconfig.ts")]);
  assert.ok(into[0]![1].filter((e) => e.to === fallback).every((e) => e.dynamic));
  for (const mode of ["modes/leader.ts", "modes/status.ts"]) {
    const graph = fullClosure([lib(mode)], new Set([fallback]));
    assert.ok(graph.has(lib("kube/api.ts")), `${mode} reaches the Kubernetes adapters`);
    assert.ok(!npmPackages(graph).includes("@kubernetes/client-node"), `${mode} loads client-node`);
  }
  const program = fullClosure([MAIN], new Set([fallback]));
  assert.ok(program.has(lib("modes/leader.ts")));
  assert.ok(!npmPackages(program).includes("@kubernetes/client-node"));
  assert.ok(npmPackages(fullClosure([fallback], new Set())).includes("@kubernetes/client-node"));
});
