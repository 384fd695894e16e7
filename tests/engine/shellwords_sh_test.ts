/**
 * The splitter held to `sh` itself: a differential table against dash (Debian's `/bin/sh`) and,
 * for what dash does not read, bash (busybox, the image's `/bin/sh`, reads `$'…'` as bash does).
 *
 * Every line runs as `printf '%s\0' LINE` in an empty directory with PATH empty, under two
 * environments that differ in every variable a line could expand: an accepted line must give our
 * argv under both; a refused line must give something else in sh than the literal reading the
 * splitter would otherwise have made (or differ between the environments: an expansion).
 */
import assert from "node:assert/strict";
import { splitCommand } from "../../lib/engine/shellwords.ts";
import { shArgv } from "./sh_argv.ts";

/** [line, our argv (accepted) or the literal reading sh does not give (refused), shell]. */
const TABLE: ReadonlyArray<
  readonly [string, { argv: string[] } | { notLiterally: string[] }, "dash" | "bash"]
> = [
  // 17: no trim before splitting.
  ["echo a\\ ", { argv: ["echo", "a "] }, "dash"],
  ["echo a\\\n", { argv: ["echo", "a"] }, "dash"],
  ["echo \u00a0a\u00a0", { argv: ["echo", "\u00a0a\u00a0"] }, "dash"],
  ["echo \u3000", { argv: ["echo", "\u3000"] }, "dash"],
  ["echo a\r", { argv: ["echo", "a\r"] }, "dash"],
  ["echo \u000ba\u000c", { argv: ["echo", "\u000ba\u000c"] }, "dash"],
  ["  echo a  \n\n", { argv: ["echo", "a"] }, "dash"],
  ["echo \u00a0\nq", { notLiterally: ["echo", "q"] }, "dash"],
  ["\u00a0\nq", { notLiterally: ["q"] }, "dash"],
  // 18: backslash-newline joined before every look-ahead.
  ["echo $\\\nHOME", { notLiterally: ["echo", "$HOME"] }, "dash"],
  ['echo "$\\\nHOME"', { notLiterally: ["echo", "$HOME"] }, "dash"],
  ["echo a\\\nb 'c\\\nd'", { argv: ["echo", "ab", "c\\\nd"] }, "dash"],
  ['echo "a\\\\\nb"', { argv: ["echo", "a\\\nb"] }, "dash"],
  // 19: $'…' and $"…" outside double quotes.
  ["echo $'a\\tb'", { notLiterally: ["echo", "$a\\tb"] }, "bash"],
  ["echo \"$'a'\"", { argv: ["echo", "$'a'"] }, "dash"],
  // Earlier rules, for the record.
  ["echo $HOME", { notLiterally: ["echo", "$HOME"] }, "dash"],
  ['echo \'a b\' "c\\"d" e\\ f', { argv: ["echo", "a b", 'c"d', "e f"] }, "dash"],
];

for (const [line, want, shell] of TABLE) {
  Deno.test(`splitCommand() agrees with ${shell}: ${JSON.stringify(line)}`, async () => {
    const [first, second] = await Promise.all([shArgv(shell, line, 1), shArgv(shell, line, 2)]);
    if ("argv" in want) {
      assert.deepEqual(splitCommand(line), want.argv);
      assert.deepEqual(first, want.argv, `${shell} under the first environment`);
      assert.deepEqual(second, want.argv, `${shell} under the second environment`);
    } else {
      assert.throws(() => splitCommand(line), TypeError);
      const literal = JSON.stringify(want.notLiterally);
      assert.ok(
        JSON.stringify(first) !== literal || JSON.stringify(second) !== literal,
        `${shell} reads ${JSON.stringify(line)} literally: refusing it is wrong`,
      );
    }
  });
}
