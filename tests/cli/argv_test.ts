/** lib/cli/argv.ts: the argv parser's syntax and its error paths, one table each. */
import assert from "node:assert/strict";
import { type OptionSpec, parseArgv } from "../../lib/cli/argv.ts";
import { ConfigError } from "../../lib/config/layer.ts";

const OPTIONS: Record<string, OptionSpec> = {
  input: { type: "string", short: "i" },
  format: { type: "string", short: "f" },
  config: { type: "string" },
  web: { type: "boolean", short: "w" },
  version: { type: "boolean", short: "v" },
  shell: { type: "boolean" },
};

const accepted: [string[], Record<string, string | boolean>, string[]][] = [
  [[], {}, []],
  [["--input", "a b"], { input: "a b" }, []],
  [["--input=a=b"], { input: "a=b" }, []],
  [["--input="], { input: "" }, []],
  [["--input=-x"], { input: "-x" }, []],
  [["--input", "-"], { input: "-" }, []],
  [["-i", "x"], { input: "x" }, []],
  [["-ix"], { input: "x" }, []],
  [["-i-x"], { input: "-x" }, []],
  [["-i=x"], { input: "=x" }, []],
  [["-w"], { web: true }, []],
  [["--web", "--shell"], { web: true, shell: true }, []],
  [["-wv"], { web: true, version: true }, []],
  [["-wi", "x"], { web: true, input: "x" }, []],
  [["-wix"], { web: true, input: "x" }, []],
  [["-wfplain", "run"], { web: true, format: "plain" }, ["run"]],
  [["-i", "a", "-i", "b", "--input=c"], { input: "c" }, []],
  [["status", "-w", "x"], { web: true }, ["status", "x"]],
  [["-"], {}, ["-"]],
  [["--", "-w", "--input", "x"], {}, ["-w", "--input", "x"]],
  [["-w", "--", "--"], { web: true }, ["--"]],
];

Deno.test("parseArgv accepts parseArgs' strict syntax", async (t) => {
  for (const [args, values, positionals] of accepted) {
    await t.step(JSON.stringify(args), () => {
      const parsed = parseArgv(args, OPTIONS);
      assert.deepEqual({ ...parsed.values }, values);
      assert.deepEqual(parsed.positionals, positionals);
    });
  }
});

const refused: [string[], string][] = [
  [["--bogus"], "unknown flag --bogus (see --help)"],
  [["--bogus=1"], "unknown flag --bogus (see --help)"],
  [["-x"], "unknown flag -x (see --help)"],
  [["-5"], "unknown flag -5 (see --help)"],
  [["-wx"], "unknown flag -x (see --help)"],
  [["-xw"], "unknown flag -x (see --help)"],
  [["--constructor"], "unknown flag --constructor (see --help)"],
  [["--__proto__=1"], "unknown flag --__proto__ (see --help)"],
  [["--WEB"], "unknown flag --WEB (see --help)"],
  [["-w", "--bogus", "-x"], "unknown flag --bogus (see --help)"],
  [["--input"], "--input: needs a value"],
  [["-i"], "--input: needs a value"],
  [["-wi"], "--input: needs a value"],
  [["--config"], "--config: needs a value"],
  [["--web=yes"], "--web: takes no value"],
  [["--input", "-x"], "Option '--input' argument is ambiguous."],
  [["--config", "--"], "Option '--config' argument is ambiguous."],
  [["-i", "--web"], "Option '-i' argument is ambiguous."],
];

Deno.test("parseArgv refuses bad input with one line naming the flag", async (t) => {
  for (const [args, message] of refused) {
    await t.step(JSON.stringify(args), () => {
      assert.throws(() => parseArgv(args, OPTIONS), (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.message, message);
        return true;
      });
    });
  }
});
