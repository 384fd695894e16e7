/**
 * `deno task bench [startup|engine|election|idle|api|tls|config|tasks|serve|cronround|podmem|apiview ...]`:
 * runs the named benchmarks (all by default),
 * prints each as a table and writes them to `bench/results/<name>.md`.
 */
import { renderTable, type Row } from "./table.ts";

type Bench = () => Promise<Row[]>;

const BENCHES: Record<string, { title: string; load: () => Promise<Bench> }> = {
  startup: {
    title: "Start-up: the real program against a bare deno run",
    load: async () => (await import("./startup.ts")).benchStartup,
  },
  engine: {
    title: "Engine: exec, pool, HTTP, memory",
    load: async () => (await import("./engine.ts")).benchEngine,
  },
  election: {
    title: "Election: failover on the real API server",
    load: async () => (await import("./election.ts")).benchElection,
  },
  idle: {
    title: "Leader idle: one leading pod waiting for workers on the real API server",
    load: async () => (await import("./idle.ts")).benchIdle,
  },
  api: {
    title: "API throughput: planning against client-go on the real API server",
    load: async () => (await import("./api.ts")).benchApi,
  },
  cronround: {
    title:
      "CronJob round against a plain Job and the node's floor on the real node (timeline in s from the Job's creation)",
    load: async () => (await import("./cronround.ts")).benchCronRound,
  },
  podmem: {
    title: "Pod memory: the kubelet's working set of our pods on the real node",
    load: async () => (await import("./podmem.ts")).benchPodMem,
  },
  tls: {
    title: "TLS: the pinned-CA transport against Deno's own TLS pool",
    load: async () => (await import("./tls.ts")).benchTls,
  },
  config: {
    title: "Config size: peak RSS of reading a large config against a one-input config",
    load: async () => (await import("./config.ts")).benchConfig,
  },
  tasks: {
    title: "Tasks: one round (BENCH_TASKS, default 1,000), 5 workers on the real API server",
    load: async () => (await import("./tasks.ts")).benchTasks,
  },
  serve: {
    title: "Serve mode's HTTP server against Deno.serve",
    load: async () => (await import("./serve.ts")).benchServe,
  },
  apiview: {
    title: "The API server's view: an idle release (leader + 2 workers) beside client-go",
    load: async () => (await import("./apiview.ts")).benchApiView,
  },
};

if (import.meta.main) {
  const names = Deno.args.length > 0 ? Deno.args : Object.keys(BENCHES);
  const unknown = names.filter((n) => !(n in BENCHES));
  if (unknown.length > 0) {
    console.error(
      `bench: unknown benchmark ${unknown.join(", ")} (have ${Object.keys(BENCHES).join(", ")})`,
    );
    Deno.exit(2);
  }
  await Deno.mkdir("bench/results", { recursive: true });
  for (const name of names) {
    const { title, load } = BENCHES[name]!;
    const rows = await (await load())();
    const table = `${renderTable(title, rows)}\n_Measured ${
      new Date().toISOString()
    } on ${Deno.build.target}, ${navigator.hardwareConcurrency} cores._\n`;
    console.log(table);
    await Deno.writeTextFile(`bench/results/${name}.md`, table);
  }
}
