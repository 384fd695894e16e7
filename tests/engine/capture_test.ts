import assert from "node:assert/strict";
import { Capture, capUtf8, utf8CutAt } from "../../lib/engine/capture.ts";

const utf8 = (text: string) => new TextEncoder().encode(text);

/** é is 2 bytes, € 3, 😀 4: caps before, inside and after each. */
const CASES: { text: string; max: number; kept: string }[] = [
  { text: "", max: 0, kept: "" },
  { text: "", max: 5, kept: "" },
  { text: "ab", max: 0, kept: "" },
  { text: "ab", max: 1, kept: "a" },
  { text: "ab", max: 2, kept: "ab" },
  { text: "ab", max: 3, kept: "ab" },
  { text: "aé", max: 1, kept: "a" },
  { text: "aé", max: 2, kept: "a" },
  { text: "aé", max: 3, kept: "aé" },
  { text: "é", max: 1, kept: "" },
  { text: "a€b", max: 2, kept: "a" },
  { text: "a€b", max: 3, kept: "a" },
  { text: "a€b", max: 4, kept: "a€" },
  { text: "a€b", max: 5, kept: "a€b" },
  { text: "😀", max: 3, kept: "" },
  { text: "😀x", max: 4, kept: "😀" },
  { text: "x😀", max: 4, kept: "x" },
  { text: "x😀", max: 5, kept: "x😀" },
  { text: "éé", max: 3, kept: "é" },
  { text: "éé", max: 4, kept: "éé" },
];

for (const { text, max, kept } of CASES) {
  const cut = kept !== text;
  Deno.test(`capUtf8(${JSON.stringify(text)}, ${max}) keeps ${JSON.stringify(kept)}`, () => {
    assert.deepEqual(capUtf8(text, max), { text: kept, cut });
    assert.equal(utf8CutAt(utf8(text), max), utf8(kept).length);
  });

  Deno.test(`Capture(${max}) of ${JSON.stringify(text)} keeps what capUtf8 keeps`, () => {
    const capture = new Capture(max, true);
    const write = capture.stream();
    write(utf8(text));
    write();
    assert.equal(capture.text(), kept);
    assert.deepEqual(capture.bytes(), utf8(kept));
    assert.equal(capture.truncated, cut);
  });
}

Deno.test("Capture shares its cap across streams, each decoded on its own", () => {
  const capture = new Capture(5);
  const out = capture.stream();
  const err = capture.stream();
  const euro = utf8("€");
  out(euro.subarray(0, 1));
  err(utf8("ab"));
  out(euro.subarray(1));
  err(utf8("é"));
  out();
  err();
  assert.equal(capture.text(), "ab€");
  assert.equal(capture.truncated, true);
  assert.equal(capture.bytes(), undefined);
});
