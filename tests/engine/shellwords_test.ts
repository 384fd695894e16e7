import assert from "node:assert/strict";
import { splitCommand } from "../../lib/engine/shellwords.ts";

const SPLITS: ReadonlyArray<readonly [string, string, readonly string[]]> = [
  ["plain words", "ls -la /tmp", ["ls", "-la", "/tmp"]],
  ["runs of blanks and tabs", "  echo \t a   b  ", ["echo", "a", "b"]],
  ["single quotes keep spaces", "echo 'a b'", ["echo", "a b"]],
  ["single quotes keep backslashes and dollars", "echo 'a\\b $HOME \"x\"'", [
    "echo",
    'a\\b $HOME "x"',
  ]],
  ["double quotes keep spaces", 'echo "a  b"', ["echo", "a  b"]],
  ["double quotes escape quote and backslash", 'echo "a\\"b\\\\c"', ["echo", 'a"b\\c']],
  ["double quotes escape dollar and backtick", 'echo "\\$HOME \\`x\\`"', ["echo", "$HOME `x`"]],
  ["double quotes keep other backslashes", 'echo "a\\nb"', ["echo", "a\\nb"]],
  ["double quotes drop backslash-newline", 'echo "a\\\nb"', ["echo", "ab"]],
  ["double quotes keep a single quote", `echo "it's"`, ["echo", "it's"]],
  ["backslash escapes a space", "echo a\\ b", ["echo", "a b"]],
  ["backslash escapes an operator", "echo a\\|b \\; \\&", ["echo", "a|b", ";", "&"]],
  ["backslash-newline joins words", "echo a\\\nb", ["echo", "ab"]],
  ["trailing backslash stays", "echo a\\", ["echo", "a\\"]],
  ["adjacent parts concatenate", `echo a'b'"c"d`, ["echo", "abcd"]],
  ["empty single quotes give an empty argument", "printf %s '' x", ["printf", "%s", "", "x"]],
  ["empty double quotes give an empty argument", 'echo ""', ["echo", ""]],
  ["quoted operators are literal", `sh -c 'ls | wc -l; echo $HOME'`, [
    "sh",
    "-c",
    "ls | wc -l; echo $HOME",
  ]],
  ["quoted star is literal", "find . -name '*.ts'", ["find", ".", "-name", "*.ts"]],
  ["lone dollar is literal", "echo $ a$", ["echo", "$", "a$"]],
  ["question mark and brackets are literal", "curl http://h/?a=1 [ x ]", [
    "curl",
    "http://h/?a=1",
    "[",
    "x",
    "]",
  ]],
  ["tilde and hash inside a word are literal", "echo a~b a#b", ["echo", "a~b", "a#b"]],
  ["quoted tilde is literal", "echo '~'", ["echo", "~"]],
  ["equals in later words is literal", "env A=1 dd if=/dev/null", [
    "env",
    "A=1",
    "dd",
    "if=/dev/null",
  ]],
  ["quoted assignment-like first word", "'A=1' x", ["A=1", "x"]],
  ["braces are literal", "find . -exec echo {} \\;", ["find", ".", "-exec", "echo", "{}", ";"]],
  ["trailing newline is ignored", "date\n", ["date"]],
  ["blank lines around the command are ignored", "\n\n  date \t\n", ["date"]],
  ["an escaped trailing space stays (no trim)", "echo a\\ ", ["echo", "a "]],
  ["a trailing backslash-newline joins nothing", "echo a\\\n", ["echo", "a"]],
  ["NBSP, ideographic space, CR, VT and FF are word characters", "echo \u00a0 \u3000 a\r \v\f", [
    "echo",
    "\u00a0",
    "\u3000",
    "a\r",
    "\v\f",
  ]],
  ["$' inside double quotes is literal", `echo "$'a'"`, ["echo", "$'a'"]],
  ["unicode survives", "echo 'héllo wörld' 日本", ["echo", "héllo wörld", "日本"]],
];

for (const [title, line, argv] of SPLITS) {
  Deno.test(`splitCommand() splits: ${title}`, () => {
    assert.deepEqual(splitCommand(line), argv);
  });
}

const REFUSALS: ReadonlyArray<readonly [string, string]> = [
  ["ls | wc -l", "|"],
  ["a || b", "||"],
  ["a && b", "&&"],
  ["sleep 1 &", "&"],
  ["a & b", "&"],
  ["a; b", ";"],
  ["echo a > f", ">"],
  ["echo a >> f", ">>"],
  ["echo a 2>f", ">"],
  ["wc < f", "<"],
  ["cat << EOF", "<<"],
  ["echo $(date)", "$("],
  ["echo `date`", "`"],
  ["echo $HOME", "$HOME"],
  ["echo ${HOME}", "${"],
  ["echo $1", "$1"],
  ["echo $?", "$?"],
  ['echo "$HOME"', "$HOME"],
  ['echo "$(date)"', "$("],
  ['echo "`date`"', "`"],
  ["ls ~/x", "~"],
  ["ls *.log", "*"],
  ["echo a #comment", "#"],
  ["(ls)", "("],
  ["FOO=bar env", "FOO="],
  ["a\nb", "newline"],
  ["\u00a0\nq", "newline"],
  ["echo $\\\nHOME", "$HOME"],
  ['echo "$\\\nHOME"', "$HOME"],
  ["A\\\n=1 cmd", "A="],
  ["echo $'a\\tb'", "$'"],
  ['echo $"a"', '$"'],
];

for (const [line, syntax] of REFUSALS) {
  Deno.test(`splitCommand() refuses shell syntax ${JSON.stringify(syntax)} in ${JSON.stringify(line)}`, () => {
    assert.throws(() => splitCommand(line), {
      name: "TypeError",
      message: `cmd ${JSON.stringify(line)} uses shell syntax ${
        JSON.stringify(syntax)
      }; set shell: true to run it through /bin/sh`,
    });
  });
}

Deno.test("splitCommand() reports an unterminated single quote", () => {
  assert.throws(() => splitCommand("echo 'a b"), {
    name: "TypeError",
    message: `cmd "echo 'a b" has an unterminated single quote`,
  });
});

Deno.test("splitCommand() reports an unterminated double quote", () => {
  assert.throws(() => splitCommand('echo "a \\"'), {
    name: "TypeError",
    message: `cmd "echo \\"a \\\\\\"" has an unterminated double quote`,
  });
});

Deno.test("splitCommand() refuses an empty command", () => {
  assert.throws(() => splitCommand("   "), {
    name: "TypeError",
    message: 'cmd "   " holds no command',
  });
});
