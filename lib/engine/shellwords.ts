/**
 * Splits a command line into argv with POSIX shell quoting rules, so a `cmd` input runs without a
 * shell yet `echo 'a b'` prints `a b`. Anything a shell would interpret rather than pass on
 * literally is refused with a message that says how to run it through `/bin/sh` instead.
 *
 * Quoting (as `sh`):
 * - single quotes keep everything literally up to the next `'`;
 * - double quotes keep everything literally except that a backslash escapes `$`, `` ` ``, `"`,
 *   `\` and newline (a backslash before any other character stays);
 * - outside quotes a backslash escapes any character, and backslash-newline joins lines;
 * - adjacent parts concatenate (`a'b'"c"` → `abc`) and empty quotes (`''`) give an empty
 *   argument.
 *
 * Refused as shell syntax (outside quotes unless noted): `|` `||` `&&` `&` `;` `<` `<<` `>` `>>`
 * `(` `)`, an unquoted newline between words, a backtick and any `$` expansion (`$VAR`, `${`,
 * `$(`, `$1`, `$?` …, also inside double quotes, where `sh` expands them too), `~` or `#` at the
 * start of a word (home-directory expansion, comment), an unquoted `*` (glob), and a leading
 * `NAME=value` word (variable assignment). A lone `$` (before a space or at the end), `?`, `[`,
 * `]`, `{`, `}`, `!` and `=` elsewhere are ordinary characters: `sh` passes them through unchanged
 * unless a file happens to match, and they are common in URLs and in `[ -f x ]`.
 *
 * @module
 */

const OPERATORS: ReadonlyMap<string, readonly string[]> = new Map([
  ["|", ["||", "|"]],
  ["&", ["&&", "&"]],
  [";", [";;", ";"]],
  ["<", ["<<", "<"]],
  [">", [">>", ">"]],
  ["(", ["("]],
  [")", [")"]],
]);

const DOUBLE_QUOTE_ESCAPES = new Set(["$", "`", '"', "\\", "\n"]);

/**
 * Returns the `$` expansion starting at `line[i]` (which is `$`), or undefined for a literal `$`.
 */
function expansionAt(line: string, i: number): string | undefined {
  const next = line[i + 1];
  if (next === undefined) return undefined;
  if (next === "(" || next === "{") return "$" + next;
  const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(line.slice(i + 1));
  if (name) return "$" + name[0];
  if (/^[0-9?#$!@*-]$/.test(next)) return "$" + next;
  return undefined;
}

/**
 * Splits a command line into argv with POSIX shell quoting, refusing shell syntax.
 *
 * @param line The command line, e.g. `grep -c 'a b' "/tmp/x y"`.
 * @returns The argv, at least one word long.
 * @throws {TypeError} When the line uses shell syntax (the message names it and suggests
 * `shell: true`), has an unterminated quote, or holds no command.
 *
 * @example Usage
 * ```ts
 * import { splitCommand } from "./shellwords.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(splitCommand(`echo 'a b' "c\\"d" e\\ f`), ["echo", "a b", 'c"d', "e f"]);
 * assert.throws(() => splitCommand("ls | wc -l"), /uses shell syntax "\|"/);
 * ```
 */
export function splitCommand(line: string): string[] {
  const text = line.trim();
  const quoted = JSON.stringify(line);
  const refuse = (syntax: string): never => {
    throw new TypeError(
      `cmd ${quoted} uses shell syntax ${
        JSON.stringify(syntax)
      }; set shell: true to run it through /bin/sh`,
    );
  };
  const words: string[] = [];
  let word = "";
  let inWord = false;
  /** True while the current word is an unquoted shell name (a possible `NAME=` assignment). */
  let bareName = true;
  const endWord = () => {
    if (inWord) words.push(word);
    word = "";
    inWord = false;
    bareName = true;
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === " " || ch === "\t") {
      endWord();
      i++;
    } else if (ch === "\n") {
      refuse("newline");
    } else if (ch === "\\") {
      const next = text[i + 1];
      bareName = false;
      if (next === undefined) {
        word += "\\";
        inWord = true;
        i++;
      } else if (next === "\n") {
        i += 2;
      } else {
        word += next;
        inWord = true;
        i += 2;
      }
    } else if (ch === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new TypeError(`cmd ${quoted} has an unterminated single quote`);
      word += text.slice(i + 1, end);
      inWord = true;
      bareName = false;
      i = end + 1;
    } else if (ch === '"') {
      inWord = true;
      bareName = false;
      i++;
      for (;;) {
        const c = text[i];
        if (c === undefined) throw new TypeError(`cmd ${quoted} has an unterminated double quote`);
        if (c === '"') {
          i++;
          break;
        }
        if (c === "\\") {
          const next = text[i + 1];
          if (next !== undefined && DOUBLE_QUOTE_ESCAPES.has(next)) {
            if (next !== "\n") word += next;
            i += 2;
            continue;
          }
          word += c;
          i++;
          continue;
        }
        if (c === "`") refuse("`");
        if (c === "$") {
          const expansion = expansionAt(text, i);
          if (expansion !== undefined) refuse(expansion);
        }
        word += c;
        i++;
      }
    } else if (ch === "$") {
      const expansion = expansionAt(text, i);
      if (expansion !== undefined) refuse(expansion);
      word += ch;
      inWord = true;
      bareName = false;
      i++;
    } else if (ch === "`") {
      refuse("`");
    } else if (OPERATORS.has(ch)) {
      const op = OPERATORS.get(ch)!.find((o) => text.startsWith(o, i))!;
      refuse(op);
    } else if (!inWord && (ch === "~" || ch === "#")) {
      refuse(ch);
    } else if (ch === "*") {
      refuse("*");
    } else if (ch === "=" && words.length === 0 && inWord && bareName) {
      refuse(word + "=");
    } else {
      if (bareName && !/[A-Za-z_]/.test(ch) && !(inWord && /[0-9]/.test(ch))) bareName = false;
      word += ch;
      inWord = true;
      i++;
    }
  }
  endWord();
  if (words.length === 0) throw new TypeError(`cmd ${quoted} holds no command`);
  return words;
}
