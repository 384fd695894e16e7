/**
 * The real-node step of issue 13: a check that fails in a CronJob round, seen the ways an operator
 * sees it — its series pushed to a Pushgateway (running here, reached by the pods) and firing the
 * chart's McallCheckFailing rule in `promtool test rules`, a TaskFailed
 * Event that `kubectl get events` lists, and `helm test` (`dz-mcall status` in the chart's test
 * pod) failing and naming it. Then the release is put back and a clean round runs, so the next
 * `helm test` passes again.
 *
 * @module
 */
import assert from "node:assert/strict";
import { taskName } from "../../lib/tasks/contract.ts";
import { kubectlAt, ok } from "./release_pods.ts";
import type { RealNode } from "./real_node.ts";
import { startPushgateway } from "./pushgateway.ts";
import { stringify } from "yaml";
import { render } from "../chart/helpers.ts";
import { promtool, ruleFile, run } from "../chart/promtool.ts";

const CHART = decodeURIComponent(new URL("../../chart", import.meta.url).pathname);
const RELEASE = "dz-mcall";

type Step = (name: string, fn: () => Promise<void>) => Promise<boolean>;

/** Runs the failing-check step; `tasks` are the release's tasks, `valuesFile` its values. */
export async function failingCheck(
  node: RealNode,
  ns: string,
  step: Step,
  tasks: readonly Record<string, unknown>[],
  valuesFile: string,
): Promise<void> {
  const kubectl = async (...args: string[]) =>
    ok(`kubectl ${args.join(" ")}`, await kubectlAt(node.kubeconfigPath, ns, args));
  const helm = (...args: string[]) => node.helm([...args, "-n", ns]);
  const round = async (tag: string) => {
    const job = `${RELEASE}-${tag}-${Date.now().toString(36)}`;
    await kubectl("create", "job", `--from=cronjob/${RELEASE}`, job);
    await kubectl("wait", "--for=condition=complete", `job/${job}`, "--timeout=120s");
    return job;
  };

  await step("a failing check: pushed series, a TaskFailed Event, helm test fails", async () => {
    const pg = await startPushgateway(node.address);
    try {
      const failing = {
        name: "always-fails",
        type: "cmd",
        input: "echo the-real-output",
        expect: "text-that-never-appears",
      };
      ok(
        "helm upgrade (failing check, pushgateway)",
        await helm(
          "upgrade",
          RELEASE,
          CHART,
          "-f",
          valuesFile,
          "--set",
          `metrics.pushgateway.url=${pg.url}`,
          "--set-json",
          `tasks=${JSON.stringify([...tasks, failing])}`,
        ),
      );
      const job = await round("fail");
      const cm = taskName(RELEASE, job, tasks.length);

      const events = await kubectl(
        "get",
        "events",
        "--field-selector",
        "reason=TaskFailed",
        "-o",
        'jsonpath={range .items[*]}{.involvedObject.name}{"\\t"}{.message}{"\\n"}{end}',
      );
      assert.match(events, new RegExp(`^${cm}\\tCheck "always-fails" failed in round ${job}`, "m"));
      // One event for this task (other rounds' failures have their own, on their own ConfigMaps).
      const mine = events.trim().split("\n").filter((l) => l.startsWith(`${cm}\t`));
      assert.equal(mine.length, 1, `one TaskFailed event for ${cm}:\n${events}`);

      const text = await pg.metrics();
      const value = (check: string) => {
        const line = text.split("\n").find((l) =>
          l.startsWith("mcall_check_success{") && l.includes(`check="${check}"`) &&
          l.includes(`namespace="${ns}"`)
        );
        assert(line, `mcall_check_success{check="${check}"} pushed:\n${text}`);
        return Number(line.split(" ").pop());
      };
      assert.equal(value("always-fails"), 0);
      for (const t of tasks) assert.equal(value(String(t.name)), 1, String(t.name));

      // The series as pushed, fed to the chart's rules for this release: McallCheckFailing fires.
      const pushed = text.split("\n").find((l) =>
        l.startsWith("mcall_check_success{") && l.includes('check="always-fails"')
      )!.replace(/ \S+$/, "");
      await promtoolFires(ns, pg.url, pushed);

      const test = await helm("test", RELEASE, "--logs", "--timeout", "90s");
      assert.notEqual(test.code, 0, `helm test must fail:\n${test.stdout}`);
      const logs = await kubectl("logs", `${RELEASE}-test-status`);
      assert.match(logs, /^failing: lease /, logs);
      assert.match(logs, /\nalways-fails +failed +\S+ +\S+ +.*text-that-never-appears/, logs);
    } finally {
      await pg.stop();
    }
    ok("helm upgrade (back)", await helm("upgrade", RELEASE, CHART, "-f", valuesFile));
    await round("clean");
  });
}

/**
 * `promtool test rules` on the PrometheusRule helm renders for this release (cronjob mode,
 * pushed series, failingRounds 2 of the default five-minute schedule): the pushed `series` failing for
 * 6 minutes fires McallCheckFailing for its check.
 */
async function promtoolFires(ns: string, pushgatewayUrl: string, series: string): Promise<void> {
  const bin = await promtool();
  assert(bin, "promtool (scripts/prom-tools.sh promtool) is needed on the real node");
  const dir = await Deno.makeTempDir({ prefix: "dz-real-promtool-" });
  try {
    const objects = await render({
      namespace: ns,
      set: {
        "prometheusRule.enabled": true,
        "prometheusRule.failingRounds": 2,
        "metrics.pushgateway.url": pushgatewayUrl,
      },
    });
    const file = await ruleFile(objects, dir);
    const firing = { namespace: ns, check: "always-fails", severity: "critical" };
    await Deno.writeTextFile(
      `${dir}/test.yaml`,
      stringify({
        rule_files: [file],
        evaluation_interval: "1m",
        tests: [{
          interval: "1m",
          input_series: [{ series, values: "0x10" }],
          alert_rule_test: [
            { eval_time: "4m", alertname: "McallCheckFailing", exp_alerts: [] },
            {
              eval_time: "6m",
              alertname: "McallCheckFailing",
              exp_alerts: [{
                exp_labels: firing,
                exp_annotations: {
                  summary: `Check always-fails in ${ns} has failed for 2 rounds in a row`,
                  description:
                    `dz-mcall status shows its last error; kubectl get events -n ${ns} --field-selector reason=TaskFailed`,
                },
              }],
            },
          ],
        }],
      }),
    );
    const r = await run(bin, ["test", "rules", "test.yaml"], dir);
    assert.equal(r.code, 0, `promtool test rules on the pushed series ${series}:\n${r.text}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
