/**
 * The `--help` text, built from the flag table of `flags.ts`.
 *
 * @module
 */
import { FLAGS } from "./flags.ts";

/** The `--help` text. */
export function helpText(version: string): string {
  const lines = FLAGS.map((f) => {
    const names = [
      f.short ? `-${f.short}` : "",
      f.alias ? `-${f.alias}` : "",
      `--${f.long}`,
    ]
      .filter(Boolean).join(", ");
    const left = `  ${names}${f.arg ? ` ${f.arg}` : ""}`;
    return `${left.padEnd(38)} ${f.help}`;
  });
  return [
    `dz-mcall ${version} — run shell commands and HTTP probes concurrently, alone or as a`,
    "Kubernetes-coordinated pool.",
    "",
    "Usage:",
    "  dz-mcall [flags]              run the inputs once and print results (exit 0/1/2)",
    "  dz-mcall -w [flags]           serve the mcall HTTP API",
    "  LEADER_ELECTION=true dz-mcall leader mode: elect, plan rounds, work tasks",
    "  dz-mcall status -c FILE [-o json]  rounds and failing checks; exit 1 when the last round failed",
    "",
    "Flags:",
    ...lines,
    "",
    "Every config key can also be set as MCALL_<SECTION>_<KEY>, e.g. MCALL_WORKER_NUMBER=4.",
    "Precedence: flags > environment > config file > defaults.",
    "Exit codes: 0 all inputs succeeded, 1 at least one failed, 2 usage or configuration error,",
    "3 a one-shot round passed its deadline, 130/143 interrupted by SIGINT/SIGTERM.",
  ].join("\n");
}
