/**
 * The planner the tests share: it leads term 1 as pod `lead`, signs with the key `"key"` and reads
 * its pods from the store it writes (a {@linkcode MemoryStore}, or a wrapper that also lists pods).
 *
 * @module
 */
import { Planner, type PlannerOptions } from "../../lib/planner/planner.ts";
import type { Clock } from "../../lib/time/clock.ts";
import { instantSigner, tasksConfig } from "./memory_store.ts";

/**
 * A leading planner over `store` on `clock`.
 *
 * @param tasks The `tasks` section as written in mcall.yaml (parsed through the schema).
 * @param overrides Replace any option (another identity, epoch, signer, a separate pod lister…).
 */
export function leadingPlanner(
  store: PlannerOptions["store"] & PlannerOptions["pods"],
  clock: Clock,
  tasks: Record<string, unknown> = {},
  overrides: Partial<PlannerOptions> = {},
): Planner {
  return new Planner({
    store,
    pods: store,
    clock,
    isLeader: () => true,
    epoch: () => 1,
    identity: "lead",
    tasks: tasksConfig(tasks),
    signer: instantSigner("key"),
    ...overrides,
  });
}
