import assert from "node:assert/strict";
import { newTaskConfigMap } from "../../lib/tasks/contract.ts";
import { adopted, claimedBy, ended, reassigned } from "../../lib/tasks/transitions.ts";
import { specs } from "../fakes/memory_store.ts";

const AT = new Date("2025-01-01T00:00:01.500Z");
const task = () => {
  const cm = newTaskConfigMap({
    app: "app",
    round: "r",
    spec: specs(1)[0]!,
    assignedTo: "w1",
    epoch: 1,
    signature: "sig1",
  });
  return { ...cm, metadata: { ...cm.metadata, resourceVersion: "5" } };
};

Deno.test("ended() marks a task terminal with when, by whom, and a reason or the result", () => {
  const cm = task();
  const dead = ended(cm, { state: "dead", by: "lead", at: AT, reason: "gone" });
  assert.equal(dead.metadata.labels?.state, "dead");
  assert.deepEqual(dead.metadata.annotations, {
    ...cm.metadata.annotations,
    processed: "true",
    "processed-at": "2025-01-01T00:00:01Z",
    "processed-by": "lead",
    reason: "gone",
  });
  assert.equal(dead.metadata.resourceVersion, "5", "kept: the write is a compare-and-swap");
  assert.deepEqual(dead.data, cm.data);
  const ok = ended(cm, { state: "succeeded", by: "w1", at: AT, data: { errorCode: "0" } });
  assert.equal(ok.metadata.annotations?.reason, undefined);
  assert.deepEqual(ok.data, { ...cm.data, errorCode: "0" });
  assert.equal(cm.metadata.labels?.state, "pending", "the argument is not changed");
});

Deno.test("claimedBy(), adopted() and reassigned() patch only what their transition moves", () => {
  const running = claimedBy(task(), "w1", AT);
  assert.equal(running.metadata.labels?.state, "running");
  assert.equal(running.metadata.annotations?.["claimed-at"], "2025-01-01T00:00:01Z");
  assert.equal(running.metadata.annotations?.["processed-by"], "w1");

  const adoptedCm = adopted(task(), { epoch: 3, signature: "" });
  assert.equal(adoptedCm.metadata.annotations?.["leader-epoch"], "3");
  assert.equal(adoptedCm.metadata.annotations?.signature, undefined, "unsigned: removed");

  const moved = reassigned(
    running,
    { from: "w1", to: "w2", attempt: 2, reason: "pod w1 is gone" },
    { epoch: 3, signature: "sig3" },
  );
  assert.equal(moved.metadata.labels?.state, "pending");
  assert.equal(moved.metadata.labels?.["assigned-to"], "w2");
  const ann = moved.metadata.annotations ?? {};
  assert.equal(ann.attempt, "2");
  assert.equal(ann["leader-epoch"], "3");
  assert.equal(ann.signature, "sig3");
  assert.equal(ann.reason, "reassigned from w1: pod w1 is gone");
  assert.equal(ann["claimed-at"], undefined);
  assert.equal(ann["processed-by"], undefined);
});
