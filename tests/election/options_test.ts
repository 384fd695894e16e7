/**
 * The elector's options and their validation (`lib/election/options.ts`).
 */
import assert from "node:assert/strict";
import { Elector } from "../../lib/election/elector.ts";
import type { ElectorOptions } from "../../lib/election/options.ts";
import type { LeaseLock } from "../../lib/election/lease_lock.ts";
import { NAME, NS } from "../fakes/election_world.ts";

// --- Configuration validation ---------------------------------------------------------------------

const stubLock = (identity: string): LeaseLock => ({
  identity: () => identity,
  describe: () => `${NS}/${NAME}`,
  get: () => Promise.resolve(null),
  create: () => Promise.resolve(),
  update: () => Promise.resolve(),
});

const validation: {
  name: string;
  options: Partial<ElectorOptions>;
  error: typeof RangeError | typeof TypeError;
  message: string;
}[] = [
  {
    name: "a leaseDurationMs that is not positive",
    options: { leaseDurationMs: 0 },
    error: RangeError,
    message:
      "Cannot start election as 'leaseDurationMs' must be a positive number: current value is 0",
  },
  {
    name: "a renewDeadlineMs that is not positive",
    options: { renewDeadlineMs: -1 },
    error: RangeError,
    message:
      "Cannot start election as 'renewDeadlineMs' must be a positive number: current value is -1",
  },
  {
    name: "a retryPeriodMs that is not a number",
    options: { retryPeriodMs: Number.NaN },
    error: RangeError,
    message:
      "Cannot start election as 'retryPeriodMs' must be a positive number: current value is NaN",
  },
  {
    name: "a leaseDurationMs that is not whole seconds",
    options: { leaseDurationMs: 15_500 },
    error: RangeError,
    message:
      "Cannot start election as 'leaseDurationMs' must be a whole number of seconds: current value is 15500",
  },
  {
    name: "a renewDeadlineMs longer than leaseDurationMs",
    options: { leaseDurationMs: 10_000, renewDeadlineMs: 15_000 },
    error: RangeError,
    message:
      "Cannot start election as 'renewDeadlineMs' must be less than 'leaseDurationMs': current values are 15000 and 10000",
  },
  {
    name: "a renewDeadlineMs equal to leaseDurationMs",
    options: { leaseDurationMs: 10_000, renewDeadlineMs: 10_000 },
    error: RangeError,
    message:
      "Cannot start election as 'renewDeadlineMs' must be less than 'leaseDurationMs': current values are 10000 and 10000",
  },
  {
    name: "a renewDeadlineMs not above 1.2 × retryPeriodMs",
    options: { renewDeadlineMs: 2400, retryPeriodMs: 2000 },
    error: RangeError,
    message:
      "Cannot start election as 'renewDeadlineMs' must be greater than 1.2 × 'retryPeriodMs': current values are 2400 and 2000",
  },
  {
    name: "a lock with an empty identity",
    options: { lock: stubLock("") },
    error: TypeError,
    message:
      `Cannot start election as the lock's 'identity' must not be empty: current value is ""`,
  },
  {
    name: "a missing onStartedLeading",
    options: { onStartedLeading: undefined as unknown as ElectorOptions["onStartedLeading"] },
    error: TypeError,
    message:
      "Cannot start election as 'onStartedLeading' must be a function: current value is undefined",
  },
];

for (const { name, options, error, message } of validation) {
  Deno.test(`new Elector() rejects ${name}`, () => {
    assert.throws(
      () => new Elector({ lock: stubLock("a"), onStartedLeading: () => {}, ...options }),
      (err: unknown) => {
        assert.ok(err instanceof error, `expected ${error.name}, got ${err}`);
        assert.equal(err.message, message);
        return true;
      },
    );
  });
}

Deno.test("new Elector() accepts the defaults and the tightest valid timings", () => {
  new Elector({ lock: stubLock("a"), onStartedLeading: () => {} });
  new Elector({
    lock: stubLock("a"),
    onStartedLeading: () => {},
    leaseDurationMs: 3000,
    renewDeadlineMs: 2999,
    retryPeriodMs: 2000,
  });
});
