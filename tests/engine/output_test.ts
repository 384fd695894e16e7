import assert from "node:assert/strict";
import type { Result } from "../../lib/engine/input.ts";
import { encodeBase64, formatResults, PLAIN_SEPARATOR } from "../../lib/engine/output.ts";

function result(more: Partial<Result> = {}): Result {
  return {
    errorCode: "0",
    input: "echo hi",
    name: "greet",
    result: "hi\n",
    ts: "2024-01-02T03:04:05.006",
    type: "cmd",
    exitCode: 0,
    status: null,
    durationMs: 3,
    truncated: false,
    ...more,
  };
}

Deno.test("formatResults() prints one compact JSON array by default", () => {
  const text = formatResults([result(), result({ errorCode: "-1", error: "exit code 1" })]);
  assert.ok(text.endsWith("]\n"));
  assert.equal(text.split("\n").length, 2, "one line plus the final newline");
  const parsed = JSON.parse(text);
  assert.equal(parsed.length, 2);
  assert.deepEqual(Object.keys(parsed[1]), [
    "errorCode",
    "input",
    "name",
    "result",
    "ts",
    "type",
    "exitCode",
    "status",
    "durationMs",
    "truncated",
    "error",
  ]);
});

Deno.test("formatResults() keeps subject only when set, after result", () => {
  const [withSubject] = JSON.parse(formatResults([result({ subject: "probe" })]));
  assert.deepEqual(Object.keys(withSubject).slice(3, 5), ["result", "subject"]);
  const [without] = JSON.parse(formatResults([result({ subject: "" })]));
  assert.equal("subject" in without, false);
});

Deno.test("formatResults() prints an empty array for no results", () => {
  assert.equal(formatResults([]), "[]\n");
});

Deno.test("formatResults() prints plain text followed by a line of =", () => {
  const text = formatResults([
    result({ result: "one\n" }),
    result({ result: "two" }),
    result({ errorCode: "-1", result: "", error: "timed out after 1s" }),
  ], { format: "plain" });
  assert.equal(
    text,
    `one\n${PLAIN_SEPARATOR}\ntwo\n${PLAIN_SEPARATOR}\nerror: timed out after 1s\n${PLAIN_SEPARATOR}\n`,
  );
  assert.match(PLAIN_SEPARATOR, /^=+$/);
});

Deno.test("formatResults() base64-encodes result with std or url alphabet", () => {
  const r = result({ result: "é?>~\n" });
  const [std] = JSON.parse(formatResults([r], { encoding: "std" }));
  const [url] = JSON.parse(formatResults([r], { encoding: "url" }));
  assert.equal(std.result, "w6k/Pn4K");
  assert.equal(url.result, "w6k_Pn4K");
  assert.equal(std.input, "echo hi", "only result is encoded");
  const plain = formatResults([result({ result: "hi\n" })], { format: "plain", encoding: "std" });
  assert.equal(plain, `aGkK\n${PLAIN_SEPARATOR}\n`);
});

const VECTORS: ReadonlyArray<readonly [string, string, string]> = [
  ["", "", ""],
  ["f", "Zg==", "Zg=="],
  ["fo", "Zm8=", "Zm8="],
  ["foo", "Zm9v", "Zm9v"],
  ["\u00fb\u00ff", "w7vDvw==", "w7vDvw=="],
  ["??>", "Pz8+", "Pz8-"],
  ["???", "Pz8/", "Pz8_"],
];

for (const [text, std, url] of VECTORS) {
  Deno.test(`encodeBase64() encodes ${JSON.stringify(text)} like Go`, () => {
    assert.equal(encodeBase64(text, "std"), std);
    assert.equal(encodeBase64(text, "url"), url);
  });
}

Deno.test("encodeBase64() round-trips large text", () => {
  const text = "日本語 text ".repeat(20_000);
  const decoded = new TextDecoder().decode(
    Uint8Array.from(atob(encodeBase64(text, "std")), (c) => c.charCodeAt(0)),
  );
  assert.equal(decoded, text);
});

Deno.test("formatResults() rejects an unknown format", () => {
  assert.throws(
    () => formatResults([], { format: "xml" as "json" }),
    {
      name: "RangeError",
      message: `Cannot format results as 'format' must be json or plain: current value is "xml"`,
    },
  );
});

Deno.test("formatResults() rejects an unknown encoding", () => {
  assert.throws(
    () => formatResults([], { encoding: "hex" as "std" }),
    {
      name: "RangeError",
      message: `Cannot format results as 'encoding' must be "", std or url: current value is "hex"`,
    },
  );
});
