import assert from "node:assert/strict";
import {
  canonicalJson,
  decodeSpec,
  encodeSpec,
  newTaskConfigMap,
  OUTPUT_CAP_BYTES,
  patched,
  resultData,
  roundIdAt,
  roundName,
  taskName,
  viewTask,
} from "../../lib/tasks/contract.ts";
import type { InputSpec, Result } from "../../lib/engine/input.ts";
import { parseSelector } from "../fakes/memory_store.ts";

const spec: InputSpec = {
  index: 4,
  input: "echo hi",
  type: "cmd",
  name: "hello",
  timeoutMs: 1000,
  shell: false,
  headers: {},
  retries: 0,
};

Deno.test("taskName() is deterministic, lowercased and zero-padded", () => {
  assert.equal(taskName("dz-mcall", "20250101-000500", 4), "dz-mcall-20250101-000500-004");
  assert.equal(taskName("My_App", "Job-X", 1234), "my-app-job-x-1234");
  assert.throws(() => taskName("a", "r".repeat(260), 1), RangeError);
});

Deno.test("roundName() names the summary", () => {
  assert.equal(roundName("dz-mcall", "20250101-000500"), "dz-mcall-round-20250101-000500");
});

Deno.test("taskName() and roundName() do not repeat the app prefix of a CronJob's Job name", () => {
  // In CronJob mode the round id is the Job name, which starts with the chart's fullname.
  assert.equal(taskName("dz-mcall", "dz-mcall-29929283", 0), "dz-mcall-29929283-000");
  assert.equal(roundName("dz-mcall", "dz-mcall-29929283"), "dz-mcall-round-29929283");
  assert.equal(taskName("My_App", "my-app-29929283", 2), "my-app-29929283-002");
  // Only a whole `<app>-` prefix is dropped, and never the whole id.
  assert.equal(taskName("dz-mcall", "dz-mcallx-1", 0), "dz-mcall-dz-mcallx-1-000");
  assert.equal(taskName("dz-mcall", "dz-mcall", 0), "dz-mcall-dz-mcall-000");
  assert.equal(roundName("dz-mcall", "manual-1"), "dz-mcall-round-manual-1");
  // A Job name is at most 63 characters: the names stay DNS subdomains far below 253.
  const job = `dz-mcall-${"9".repeat(54)}`;
  assert.equal(job.length, 63);
  assert.ok(taskName("dz-mcall", job, 999).length <= 253);
  assert.match(taskName("dz-mcall", job, 999), /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
});

Deno.test("roundIdAt() aligns to the interval in UTC", () => {
  assert.equal(roundIdAt(new Date("2025-03-04T10:14:59.999Z"), 300_000), "20250304-101000");
  assert.equal(roundIdAt(new Date("2025-03-04T10:15:00Z"), 300_000), "20250304-101500");
});

Deno.test("canonicalJson() sorts keys and drops undefined", () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [1, "x"], c: undefined } }),
    '{"a":{"d":[1,"x"]},"b":1}',
  );
});

Deno.test("decodeSpec() round-trips encodeSpec() and reports garbage", () => {
  const text = encodeSpec({ ...spec, expect: "hi", body: "b" });
  assert.deepEqual(decodeSpec(text), { spec: { ...spec, expect: "hi", body: "b" } });
  assert.deepEqual(decodeSpec("{nope"), { error: "spec is not JSON" });
  const bad = decodeSpec('{"index":1}');
  assert.ok("error" in bad && bad.error.startsWith("spec is invalid"));
  assert.ok("error" in decodeSpec(JSON.stringify({ ...spec, extra: 1 })));
});

Deno.test("viewTask() never throws on missing or garbled fields", () => {
  const v = viewTask({
    metadata: { name: "x", annotations: { attempt: "zz", "leader-epoch": "-1" } },
  });
  assert.equal(v.state, undefined);
  assert.equal(v.attempt, 1);
  assert.equal(v.epoch, undefined);
  assert.equal(v.specText, "");
  // deno-lint-ignore no-explicit-any
  const empty = viewTask({} as any);
  assert.equal(empty.name, "");
  const cm = newTaskConfigMap({
    app: "dz-mcall",
    round: "r1",
    spec,
    assignedTo: "pod-a",
    epoch: 3,
    signature: "ab",
  });
  const ok = viewTask(cm);
  assert.deepEqual([ok.state, ok.epoch, ok.attempt, ok.assignedTo, ok.round, ok.signature], [
    "pending",
    3,
    1,
    "pod-a",
    "r1",
    "ab",
  ]);
  assert.equal(cm.metadata.annotations?.processed, "false");
});

Deno.test("patched() merges, removes null keys and keeps the resourceVersion", () => {
  const cm = { metadata: { name: "x", resourceVersion: "7", labels: { a: "1", b: "2" } } };
  const p = patched(cm, { labels: { a: "9", b: null }, data: { k: "v" } });
  assert.deepEqual(p.metadata.labels, { a: "9" });
  assert.equal(p.metadata.resourceVersion, "7");
  assert.deepEqual(p.data, { k: "v" });
  assert.deepEqual(cm.metadata.labels, { a: "1", b: "2" });
});

Deno.test("resultData() caps the output and writes every key", () => {
  const result: Result = {
    errorCode: "-1",
    input: "x",
    name: "x",
    result: "y".repeat(2 * 1024 * 1024),
    ts: "2025-01-01T00:00:00.000",
    type: "cmd",
    exitCode: null,
    status: 503,
    durationMs: 12.6,
    truncated: false,
    error: "boom",
  };
  const data = resultData(result);
  assert.equal(data.output?.length, OUTPUT_CAP_BYTES);
  assert.equal(data.truncated, "true");
  assert.equal(data.exitCode, "");
  assert.equal(data.status, "503");
  assert.equal(data.durationMs, "13");
  assert.equal(data.error, "boom");
});

Deno.test("parseSelector() matches equality, set and existence requirements", () => {
  const labels = { app: "dz-mcall", task: "true", state: "failed" };
  assert.equal(parseSelector("app=dz-mcall,task=true")(labels), true);
  assert.equal(parseSelector("app=dz-mcall,state in (dead, failed)")(labels), true);
  assert.equal(parseSelector("state notin (failed)")(labels), false);
  assert.equal(parseSelector("app!=dz-mcall")(labels), false);
  assert.equal(parseSelector("task,!round")(labels), true);
});
