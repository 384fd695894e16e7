/**
 * The release the chart's end-to-end tests install (`chart_e2e_test.ts`, `chart_rollout_test.ts`):
 * its names, as the guide's `helm install dz-mcall` gives them, and `helm install` of the chart
 * with an image no one pulls (this test process plays kubelet and runs `main.ts` itself).
 *
 * @module
 */
import { helmAt, ok } from "./release_pods.ts";

/** The chart, as helm renders it. */
export const CHART = decodeURIComponent(new URL("../../chart", import.meta.url).pathname);
/** The guide's release name: fullname, app label and Lease name are then all `dz-mcall…`. */
export const RELEASE = "dz-mcall";
/** The release's `app` label on task and round ConfigMaps. */
export const APP = "dz-mcall";
/** The release's Lease. */
export const LEASE = "dz-mcall-leader";
/** Set when the tests run against an outside cluster, whose kubelet would fight ours. */
export const EXTERNAL_CLUSTER = Boolean(Deno.env.get("DZ_E2E_KUBECONFIG"));

/**
 * Several programs run on one machine, so each gets `MCALL_METRICS_PORT=0` (an ephemeral probe
 * port) instead of the chart's 8080; in a cluster every Pod has its own network namespace.
 */
export const LOCAL_OVERRIDES = { MCALL_METRICS_PORT: "0" };

/**
 * `helm install` of {@linkcode RELEASE} from {@linkcode CHART} into `ns`, with the e2e image.
 *
 * @param kubeconfig The test cluster's kubeconfig.
 * @param ns The namespace.
 * @param values `--set` values, e.g. `replicas=3`.
 * @param tasks The `tasks` value (`--set-json`), when given.
 * @returns helm's stdout.
 * @throws {Error} With helm's output when it fails.
 */
export async function helmInstall(
  kubeconfig: string,
  ns: string,
  values: readonly string[],
  tasks?: readonly unknown[],
): Promise<string> {
  const args = [
    "install",
    RELEASE,
    CHART,
    "-n",
    ns,
    "--set",
    "image.repository=dz-mcall.invalid/e2e",
  ];
  for (const value of values) args.push("--set", value);
  if (tasks !== undefined) args.push("--set-json", `tasks=${JSON.stringify(tasks)}`);
  return ok("helm install", await helmAt(kubeconfig, args));
}

/**
 * `helm upgrade --reuse-values` of {@linkcode RELEASE} in `ns`, changing `values`.
 *
 * @param kubeconfig The test cluster's kubeconfig.
 * @param ns The namespace.
 * @param values `--set` values, e.g. `interval=9s`.
 * @returns helm's stdout.
 * @throws {Error} With helm's output when it fails.
 */
export async function helmUpgrade(
  kubeconfig: string,
  ns: string,
  values: readonly string[],
): Promise<string> {
  const args = ["upgrade", RELEASE, CHART, "-n", ns, "--reuse-values"];
  for (const value of values) args.push("--set", value);
  return ok("helm upgrade", await helmAt(kubeconfig, args));
}
