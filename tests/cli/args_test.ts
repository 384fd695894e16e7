import assert from "node:assert/strict";
import { parseCli } from "../../lib/cli/args.ts";
import { FLAGS, printOnly } from "../../lib/cli/flags.ts";
import { helpText } from "../../lib/cli/help.ts";
import { ConfigError } from "../../lib/config/layer.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { splitInputList } from "../../lib/engine/input.ts";

Deno.test("splitInputList() splits on commas outside quotes only", () => {
  const cases: [string, string[]][] = [
    ["ls -al,pwd", ["ls -al", "pwd"]],
    ["echo 'a,b',date", ["echo 'a,b'", "date"]],
    ['echo "x,y" , uname', ['echo "x,y"', "uname"]],
    ["echo a\\,b,c", ["echo a\\,b", "c"]],
    ['echo "it\'s,fine",x', ['echo "it\'s,fine"', "x"]],
    [",, ,a,", ["a"]],
    // Only ASCII blanks are trimmed, and not one a backslash escapes (sh keeps both).
    ["echo a\\ , b\t\n", ["echo a\\ ", "b"]],
    ["\u00a0x ,y\r", ["\u00a0x", "y\r"]],
  ];
  for (const [text, want] of cases) assert.deepEqual(splitInputList(text), want, text);
});

Deno.test("parseCli() accepts the original's single-dash long flags", () => {
  const cli = parseCli(["-worker", "4", "-lf", "/tmp/x.log", "-l", "debug", "-w", "-p", "3100"]);
  assert.deepEqual(cli.layer.values, {
    worker: { number: 4 },
    log: { file: "/tmp/x.log", level: "debug" },
    webserver: { enable: true, port: 3100 },
  });
  assert.equal(cli.layer.sources.get("worker.number"), "--worker");
});

Deno.test("parseCli() accepts Go-style -name=value for every flag, booleans included", () => {
  const cli = parseCli([
    "-i=echo x",
    "-f=plain",
    "-w=true",
    "--shell=false",
    "-worker=4",
    "--port=3100",
    "-lf=/tmp/x.log",
    "-timeout=5s",
    "-e=",
  ]);
  assert.deepEqual(cli.layer.values, {
    request: { inputs: [{ input: "echo x" }], shell: false, timeout: "5s" },
    response: { format: "plain", encoding: { type: "" } },
    webserver: { enable: true, port: 3100 },
    worker: { number: 4 },
    log: { file: "/tmp/x.log" },
  });
  assert.equal(parseCli(["-w=false"]).layer.values.webserver !== undefined, true);
  assert.deepEqual(parseCli(["-w=0"]).layer.values, { webserver: { enable: false } });
  assert.equal(parseCli(["-h=true"]).help, true);
  // Every flag takes -name=value under each of its names.
  for (const flag of FLAGS) {
    const value = flag.type === "boolean"
      ? "true"
      : flag.kind === "int"
      ? "7"
      : flag.long === "output"
      ? "json" // a choice, checked by parseCli itself
      : "5s";
    for (const name of [flag.short, flag.alias, flag.long]) {
      if (name === undefined || flag.long === "input") continue;
      // --output belongs to the status command.
      const args = flag.long === "output" ? ["status", `-${name}=${value}`] : [`-${name}=${value}`];
      assert.doesNotThrow(() => parseCli(args), `-${name}=${value}`);
    }
  }
});

Deno.test("parseCli() accepts long forms and -i with a type", () => {
  const cli = parseCli([
    "--input",
    "http://a,http://b",
    "--type",
    "get",
    "--format",
    "plain",
    "-e",
    "url",
  ]);
  assert.deepEqual(cli.layer.values, {
    request: { type: "get", inputs: [{ input: "http://a" }, { input: "http://b" }] },
    response: { format: "plain", encoding: { type: "url" } },
  });
});

Deno.test("parseCli() puts only flags the user passed into the layer", () => {
  assert.deepEqual(parseCli(["-c", "etc/mcall.yaml"]).layer.values, {});
  assert.equal(parseCli(["-c", "etc/mcall.yaml"]).configPath, "etc/mcall.yaml");
});

Deno.test("parseCli() recognises commands, --help and --version", () => {
  assert.equal(parseCli([]).command, "run");
  assert.equal(parseCli(["status"]).command, "status");
  assert.equal(parseCli(["--help"]).help, true);
  assert.equal(parseCli(["-v"]).version, true);
});

const bad: [string[], RegExp][] = [
  [["--bogus"], /^unknown flag --bogus \(see --help\)$/],
  [["-w=maybe"], /^--web: "maybe" is not true or false$/],
  [["-i"], /^--input: needs a value$/],
  [["-worker", "x"], /^--worker: "x" is not an integer$/],
  [["--timeout", "soon"], /^--timeout: "soon" is not a duration/],
  [["-i", " , "], /^--input: no inputs in the list$/],
  [["frobnicate"], /^unknown command "frobnicate"/],
  [["run", "extra"], /^unexpected argument "extra"$/],
];
for (const [args, pattern] of bad) {
  Deno.test(`parseCli() rejects ${args.join(" ")} with a one-line error`, () => {
    assert.throws(() => parseCli(args), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, pattern);
      assert.ok(!err.message.includes("\n"));
      return true;
    });
  });
}

Deno.test("printOnly() says what parseCli() says for every lone spelling of every flag", () => {
  const spellings = FLAGS.flatMap((f) => [
    `--${f.long}`,
    `-${f.long}`,
    ...(f.short ? [`-${f.short}`, `--${f.short}`] : []),
    ...(f.alias ? [`-${f.alias}`, `--${f.alias}`] : []),
    `--${f.long}=true`,
  ]);
  let printing = 0;
  for (const arg of [...spellings, "run", "status", "-", "--", "-hv", "-vh", "--HELP"]) {
    let expected: string | undefined;
    try {
      const cli = parseCli([arg]);
      expected = cli.help ? "help" : cli.version ? "version" : undefined;
    } catch {
      expected = undefined;
    }
    const only = printOnly([arg]);
    // printOnly may leave a printing spelling to the parser, never claim one the parser refuses.
    if (only !== undefined) {
      assert.equal(only, expected, arg);
      printing++;
    }
  }
  assert.equal(printing, 6, "-h --help -help -v --version -version");
  assert.equal(printOnly(["--help", "--bogus"]), undefined);
  assert.equal(printOnly([]), undefined);
});

Deno.test("helpText() lists every flag", () => {
  const text = helpText("9.9.9");
  assert.match(text, /^dz-mcall 9\.9\.9/);
  for (const flag of FLAGS) assert.ok(text.includes(`--${flag.long}`), flag.long);
  assert.match(text, /-worker/);
  assert.match(text, /-lf/);
});

Deno.test("--worker beyond 2^53 names the real maximum", () => {
  assert.throws(
    () => loadConfig({ layers: [parseCli(["--worker", "99999999999999999999"]).layer] }),
    /^ConfigError: worker\.number \(from --worker\): 100000000000000000000 is above the maximum of 1000$/,
  );
});
