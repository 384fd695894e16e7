import assert from "node:assert/strict";
import {
  checkContent,
  type Expect,
  judge,
  type Outcome,
  parseExpect,
} from "../../lib/engine/expect.ts";

Deno.test("parseExpect() recognises each form", () => {
  assert.deepEqual(parseExpect("status=200|301"), {
    kind: "status",
    text: "status=200|301",
    codes: ["200", "301"],
  });
  assert.deepEqual(parseExpect("status == 2XX | 404").kind, "status");
  assert.deepEqual(
    parseExpect("status=2XX|404").kind === "status" && parseExpect("status=2XX|404"),
    {
      kind: "status",
      text: "status=2XX|404",
      codes: ["2xx", "404"],
    },
  );
  assert.deepEqual(parseExpect("$count<5"), { kind: "count", text: "$count<5", op: "<", value: 5 });
  assert.deepEqual(parseExpect(" $count = -3 "), {
    kind: "count",
    text: " $count = -3 ",
    op: "==",
    value: -3,
  });
  const regex = parseExpect("/^ok$/m");
  assert.equal(regex.kind, "regex");
  assert.equal(regex.kind === "regex" && regex.regex.flags, "m");
  assert.deepEqual(parseExpect(" ok | ready "), {
    kind: "contains",
    text: " ok | ready ",
    alternatives: ["ok", "ready"],
  });
});

const LITERALS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ["/healthz", ["/healthz"]],
  ["/tmp/foo", ["/tmp/foo"]],
  ["status: ok", ["status: ok"]],
  ["count < 5", ["count < 5"]],
  ["$counter", ["$counter"]],
];

for (const [text, alternatives] of LITERALS) {
  Deno.test(`parseExpect() treats ${JSON.stringify(text)} as a substring check`, () => {
    assert.deepEqual(parseExpect(text), { kind: "contains", text, alternatives });
  });
}

const INVALID: ReadonlyArray<readonly [string, RegExp]> = [
  ["", /^expect "" is empty$/],
  ["   ", /^expect " {3}" is empty$/],
  ["status=ok", /^expect "status=ok" is not a valid status list: "ok" is not a status code/],
  ["status=", /^expect "status=" is not a valid status list/],
  ["status=200|", /is not a valid status list/],
  ["status=6xx", /is not a valid status list/],
  ["status=2000", /is not a valid status list/],
  ["$count ~ 5", /^expect "\$count ~ 5" is not a valid count check/],
  ["$count < five", /is not a valid count check/],
  ["$count < 1.5", /is not a valid count check/],
  ["/a(/", /^expect "\/a\(\/" is not a valid regular expression: /],
  ["/a/gg", /is not a valid regular expression/],
  ["a||b", /^expect "a\|\|b" has an empty alternative/],
  ["|a", /has an empty alternative/],
];

for (const [text, message] of INVALID) {
  Deno.test(`parseExpect() rejects ${JSON.stringify(text)}`, () => {
    assert.throws(() => parseExpect(text), (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, message);
      assert.ok(!error.message.includes("\n"), "message is one line");
      return true;
    });
  });
}

const CONTENT: ReadonlyArray<readonly [string, string, boolean]> = [
  ["ok", "all ok\n", true],
  ["ok", "OK", false],
  ["ready|ok", "it is ready", true],
  ["ready|ok", "it is fine", false],
  ["$count < 5", " 4\n", true],
  ["$count < 5", "5", false],
  ["$count > 5", "6", true],
  ["$count > 5", "5", false],
  ["$count <= 5", "5", true],
  ["$count >= 5", "4", false],
  ["$count == 0", "0\n", true],
  ["$count != 0", "0", false],
  ["$count > -1", "+0", true],
  ["$count < 5", "abc", false],
  ["$count < 5", "3 4", false],
  ["$count < 5", "", false],
  ["/^ready$/m", "x\nready\ny", true],
  ["/^ready$/", "x\nready\ny", false],
  ["/READY/i", "ready", true],
  ["/a.c/g", "abc", true],
  ["status=500", "anything", true],
];

for (const [text, output, ok] of CONTENT) {
  Deno.test(`checkContent() ${text} on ${JSON.stringify(output)} is ${ok}`, () => {
    const expect = parseExpect(text);
    assert.equal(checkContent(expect, output).ok, ok);
    assert.equal(checkContent(expect, output).ok, ok, "repeatable (no lastIndex state)");
  });
}

Deno.test("checkContent() explains each failure", () => {
  assert.deepEqual(checkContent(parseExpect("a|b"), "c"), {
    ok: false,
    reason: 'output does not contain "a" or "b"',
  });
  assert.deepEqual(checkContent(parseExpect("$count < 5"), " abc \n"), {
    ok: false,
    reason: 'output "abc" is not an integer, as "$count < 5" requires',
  });
  assert.deepEqual(checkContent(parseExpect("$count < 5"), "7"), {
    ok: false,
    reason: "count 7 is not < 5",
  });
  assert.deepEqual(checkContent(parseExpect("/x/i"), "y"), {
    ok: false,
    reason: "output does not match /x/i",
  });
});

const cmd = (exitCode: number | null, output = ""): Outcome => ({
  type: "cmd",
  output,
  exitCode,
  status: null,
});
const http = (status: number | null, output = ""): Outcome => ({
  type: "get",
  output,
  exitCode: null,
  status,
});

const JUDGEMENTS: ReadonlyArray<readonly [string, Outcome, string | undefined, boolean]> = [
  ["cmd exit 0 without expect", cmd(0), undefined, true],
  ["cmd exit 1 without expect", cmd(1), undefined, false],
  ["cmd killed", cmd(null), undefined, false],
  ["cmd exit 0 with matching content", cmd(0, "ok"), "ok", true],
  ["cmd exit 0 with content mismatch", cmd(0, "no"), "ok", false],
  ["cmd exit 1 with matching content", cmd(1, "ok"), "ok", false],
  ["cmd exit 1 allowed by status=", cmd(1, "x"), "status=0|1", true],
  ["cmd exit 0 not in status=", cmd(0), "status=1", false],
  ["cmd count on exit 0", cmd(0, "3\n"), "$count < 5", true],
  ["http 200 without expect", http(200), undefined, true],
  ["http 204 without expect", http(204), undefined, true],
  ["http 301 without expect", http(301), undefined, false],
  ["http 404 without expect", http(404), undefined, false],
  ["http 500 without expect", http(500), undefined, false],
  ["no http response", http(null), undefined, false],
  ["no http response with status=", http(null), "status=5xx", false],
  ["http 301 with status=200|301", http(301), "status=200|301", true],
  ["http 404 with status=200|301", http(404), "status=200|301", false],
  ["http 503 with status=5xx", http(503), "status=5xx", true],
  ["http 404 with status=4xx|200", http(404), "status=4xx|200", true],
  ["http 200 with matching body", http(200, "ready"), "ready|ok", true],
  ["http 200 with body mismatch", http(200, "down"), "ready|ok", false],
  ["http 500 with matching body", http(500, "ready"), "ready", false],
  ["http 200 with regex", http(200, '{"up":true}'), '/"up":\\s*true/', true],
];

for (const [title, outcome, text, ok] of JUDGEMENTS) {
  Deno.test(`judge() ${title} → ${ok ? "success" : "failure"}`, () => {
    const expect: Expect | undefined = text === undefined ? undefined : parseExpect(text);
    const verdict = judge(outcome, expect);
    assert.equal(verdict.ok, ok);
    if (!verdict.ok) assert.ok(verdict.reason.length > 0);
  });
}

Deno.test("judge() names the exit code and status in reasons", () => {
  assert.deepEqual(judge(cmd(3)), { ok: false, reason: "exit code 3" });
  assert.deepEqual(judge(cmd(3), parseExpect("status=0|1")), {
    ok: false,
    reason: "exit code 3 is not one of 0|1",
  });
  assert.deepEqual(judge(http(404)), { ok: false, reason: "HTTP status 404 is not 2xx" });
  assert.deepEqual(judge(http(404), parseExpect("status=200|301")), {
    ok: false,
    reason: "HTTP status 404 is not one of 200|301",
  });
});
