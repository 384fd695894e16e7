/**
 * The Lease record and MicroTime (`lib/election/lease_record.ts`).
 */
import assert from "node:assert/strict";
import { formatMicroTime } from "../../lib/election/lease_record.ts";
import { leaseSpecToRecord } from "../../lib/election/lease_record.ts";
import { parseMicroTime } from "../../lib/election/lease_record.ts";

Deno.test("leaseSpecToRecord() reads client-node Dates and server text alike", () => {
  const date = new Date(Date.UTC(2006, 0, 2, 15, 4, 5, 7));
  assert.deepEqual(
    leaseSpecToRecord({
      holderIdentity: "a",
      leaseDurationSeconds: 15,
      acquireTime: date,
      renewTime: "2006-01-02T15:04:05.123456Z",
      leaseTransitions: 2,
    }),
    {
      holderIdentity: "a",
      leaseDurationSeconds: 15,
      acquireTime: "2006-01-02T15:04:05.007000Z",
      renewTime: "2006-01-02T15:04:05.123456Z",
      leaseTransitions: 2,
    },
  );
  assert.deepEqual(leaseSpecToRecord(undefined), {
    holderIdentity: "",
    leaseDurationSeconds: 0,
    acquireTime: null,
    renewTime: null,
    leaseTransitions: 0,
  });
});

Deno.test("formatMicroTime() writes six fractional digits in UTC and parseMicroTime() reads it", () => {
  const text = formatMicroTime(new Date(Date.UTC(2006, 0, 2, 15, 4, 5, 0)));
  assert.equal(text, "2006-01-02T15:04:05.000000Z");
  assert.match(text, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  assert.equal(parseMicroTime(text)?.getTime(), Date.UTC(2006, 0, 2, 15, 4, 5, 0));
  assert.equal(
    parseMicroTime("2006-01-02T17:04:05+02:00")?.getTime(),
    Date.UTC(2006, 0, 2, 15, 4, 5),
  );
  assert.equal(parseMicroTime("2006-01-02"), undefined);
});
