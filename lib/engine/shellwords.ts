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
 *   argument;
 * - only space, tab and newline separate words: the line is not trimmed, and U+00A0, U+3000, CR,
 *   VT, FF are word characters, as in `sh`; blank lines before the first word or after the last
 *   are ignored.
 *
 * Invariant (as `sh`'s tokenizer): every backslash-newline outside single quotes is removed before
 * anything else reads the line, so no check can be split across it (`$\⏎HOME` is `$HOME`,
 * `A\⏎=1 cmd` an assignment).
 *
 * Refused as shell syntax (outside quotes unless noted): `|` `||` `&&` `&` `;` `<` `<<` `>` `>>`
 * `(` `)`, an unquoted newline between words, a backtick and any `$` expansion (`$VAR`, `${`,
 * `$(`, `$1`, `$?` …, also inside double quotes, where `sh` expands them too), `$'…'` and `$"…"`
 * (bash and busybox, the image's `/bin/sh`, read them as escapes / translations), `~` or `#` at the
 * start of a word (home-directory expansion, comment), an unquoted `*` (glob), and a leading
 * `NAME=value` word (variable assignment). A lone `$` (before a space or at the end), `?`, `[`,
 * `]`, `{`, `}`, `!` and `=` elsewhere are ordinary characters: `sh` passes them through unchanged
 * unless a file happens to match, and they are common in URLs and in `[ -f x ]`.
 *
 * @module
 */

/**
 * `text` without the spaces, tabs and newlines around it — the blanks `sh` ignores there — but
 * keeping a blank a backslash escapes (`echo a\\ ` keeps `a `) and every other whitespace
 * (U+00A0, CR, VT, FF…, word characters to `sh`). The one trim a command line gets: the config
 * schema's `input` and the `-i` list use it.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { trimBlanks } from "./shellwords.ts";
 * assert.equal(trimBlanks("\n  echo a\\  \t"), "echo a\\ ");
 * assert.equal(trimBlanks("\u00a0x\r"), "\u00a0x\r");
 * ```
 */
export function trimBlanks(text: string): string {
  return text.replace(/^[ \t\n]+|(?<!\\)[ \t\n]+$/g, "");
}

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
 * `line` with every backslash-newline outside single quotes removed, as `sh` removes them before
 * it tokenizes (a backslash that escapes another character is kept with it).
 */
function joinContinuations(line: string): string {
  if (!line.includes("\\\n")) return line;
  let out = "";
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      out += c;
    } else if (c === "\\") {
      if (line[i + 1] === "\n") {
        i++;
      } else {
        out += c + (line[i + 1] ?? "");
        i++;
      }
    } else {
      if (c === '"') quote = quote === '"' ? undefined : '"';
      else if (c === "'" && quote === undefined) quote = "'";
      out += c;
    }
  }
  return out;
}

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
  return new Splitter(line).split();
}

/** One split in progress: the position in the text, the words so far and the one being built. */
class Splitter {
  readonly #text: string;
  /** The line as the error messages quote it. */
  readonly #quoted: string;
  #i = 0;
  readonly #words: string[] = [];
  #word = "";
  #inWord = false;
  /** True while the current word is an unquoted shell name (a possible `NAME=` assignment). */
  #bareName = true;

  constructor(line: string) {
    // Not trimmed: sh keeps U+00A0, CR, VT, FF… as word characters.
    this.#text = joinContinuations(line);
    this.#quoted = JSON.stringify(line);
  }

  split(): string[] {
    while (this.#i < this.#text.length) this.#step(this.#text[this.#i]!);
    this.#endWord();
    if (this.#words.length === 0) throw new TypeError(`cmd ${this.#quoted} holds no command`);
    return this.#words;
  }

  /** Consumes the character at the position, `ch`, and whatever it starts. */
  #step(ch: string): void {
    if (ch === " " || ch === "\t") {
      this.#endWord();
      this.#i++;
    } else if (ch === "\n") {
      // Blank lines around the command are harmless; one between words starts a second command.
      this.#endWord();
      if (this.#words.length > 0 && /[^ \t\n]/.test(this.#text.slice(this.#i))) {
        this.#refuse("newline");
      }
      this.#i++;
    } else if (ch === "\\") {
      this.#backslash();
    } else if (ch === "'") {
      this.#singleQuoted();
    } else if (ch === '"') {
      this.#doubleQuoted();
    } else {
      const syntax = ch === "$" ? this.#dollarAt() : this.#syntaxAt(ch);
      if (syntax !== undefined) this.#refuse(syntax);
      if (this.#bareName && !/[A-Za-z_]/.test(ch) && !(this.#inWord && /[0-9]/.test(ch))) {
        this.#bareName = false;
      }
      this.#take(ch, 1);
    }
  }

  /** The syntax an unquoted `$` at the position starts: an expansion, `$'…'` or `$"…"`. */
  #dollarAt(): string | undefined {
    const next = this.#text[this.#i + 1];
    if (next === "'" || next === '"') return "$" + next;
    return expansionAt(this.#text, this.#i);
  }

  /** The shell syntax an unquoted `ch` (not `$`) at the position starts, if any. */
  #syntaxAt(ch: string): string | undefined {
    if (ch === "`" || ch === "*") return ch;
    const operators = OPERATORS.get(ch);
    if (operators !== undefined) return operators.find((o) => this.#text.startsWith(o, this.#i))!;
    if (!this.#inWord && (ch === "~" || ch === "#")) return ch;
    if (ch === "=" && this.#words.length === 0 && this.#inWord && this.#bareName) {
      return this.#word + "=";
    }
    return undefined;
  }

  /** Outside quotes a backslash escapes any character, and backslash-newline joins lines. */
  #backslash(): void {
    const next = this.#text[this.#i + 1];
    this.#bareName = false;
    if (next === undefined) this.#take("\\", 1);
    else if (next === "\n") this.#i += 2;
    else this.#take(next, 2);
  }

  /** Single quotes keep everything literally up to the next `'`. */
  #singleQuoted(): void {
    const end = this.#text.indexOf("'", this.#i + 1);
    if (end < 0) throw new TypeError(`cmd ${this.#quoted} has an unterminated single quote`);
    this.#bareName = false;
    this.#take(this.#text.slice(this.#i + 1, end), end + 1 - this.#i);
  }

  /** Double quotes keep everything but escapes of `DOUBLE_QUOTE_ESCAPES`; no `` ` `` or `$…`. */
  #doubleQuoted(): void {
    const text = this.#text;
    this.#bareName = false;
    this.#take("", 1);
    for (;;) {
      const c = text[this.#i];
      if (c === undefined) {
        throw new TypeError(`cmd ${this.#quoted} has an unterminated double quote`);
      }
      if (c === '"') {
        this.#i++;
        return;
      }
      const next = text[this.#i + 1];
      if (c === "\\" && next !== undefined && DOUBLE_QUOTE_ESCAPES.has(next)) {
        this.#take(next === "\n" ? "" : next, 2);
        continue;
      }
      if (c === "`") this.#refuse("`");
      if (c === "$") {
        const expansion = expansionAt(text, this.#i);
        if (expansion !== undefined) this.#refuse(expansion);
      }
      this.#take(c, 1);
    }
  }

  /** Adds `part` to the current word and moves `length` characters on. */
  #take(part: string, length: number): void {
    this.#word += part;
    this.#inWord = true;
    this.#i += length;
  }

  #endWord(): void {
    if (this.#inWord) this.#words.push(this.#word);
    this.#word = "";
    this.#inWord = false;
    this.#bareName = true;
  }

  #refuse(syntax: string): never {
    throw new TypeError(
      `cmd ${this.#quoted} uses shell syntax ${
        JSON.stringify(syntax)
      }; set shell: true to run it through /bin/sh`,
    );
  }
}
