/**
 * `Grants.classify` (lib/kube/requests.ts) remembers which calls were allowed: a success, or a failure
 * the API server decides only after authorizing the call (404, 409, …), so a later 403 for the same
 * call says the Role or RoleBinding changed (a leader that created its Lease after a 404 and then
 * only renewed it still says so once `helm uninstall` removed its RoleBinding).
 */
import assert from "node:assert/strict";
import { ApiException } from "@kubernetes/client-node";
import { Grants } from "../../lib/kube/requests.ts";

const status = (code: number) => new ApiException(code, "status", "{}", {});
const CHANGED = /this was allowed before, so the Role or RoleBinding was deleted or changed/;

Deno.test("Grants.classify() counts a call answered after authorization as allowed", () => {
  const grants = new Grants();
  const classify = grants.classify.bind(grants);
  const cases: [number, boolean][] = [
    [404, true],
    [409, true],
    [410, true],
    [422, true],
    [
      401,
      false,
    ],
    [403, false],
    [429, false],
    [500, false],
  ];
  for (const [code, allowed] of cases) {
    const verb = `verb${code}`;
    assert.equal(classify(status(code), verb, "things", "ns").code, code);
    const later = classify(status(403), verb, "things", "ns");
    if (allowed) assert.match(later.message, CHANGED, `after ${code}`);
    else {assert.match(
        later.message,
        new RegExp(`the Role needs verb ${verb} on things`),
        `${code}`,
      );}
  }
  // A watch's ERROR event carries its code apart from the error.
  classify(new Error("watch error"), "watch", "others", "ns", 410);
  assert.match(classify(status(403), "watch", "others", "ns").message, CHANGED);
});

Deno.test("Grants are one adapter's: another's calls were never allowed", () => {
  const [store, other] = [new Grants(), new Grants()];
  store.note("update", "configmaps");
  assert.match(store.classify(status(403), "update", "configmaps", "ns").message, CHANGED);
  assert.doesNotMatch(other.classify(status(403), "update", "configmaps", "ns").message, CHANGED);
});
