/**
 * kubeconfig `exec` credential plugins ({@linkcode execAuthorization}), run as client-go runs
 * them (`plugin/pkg/client/auth/exec`): the command, when relative and containing a `/`, is
 * resolved against the directory of the kubeconfig file that named it (a bare name is looked up
 * on `PATH`); `KUBERNETES_EXEC_INFO` carries the `ExecCredential` request; the token is cached
 * until its `expirationTimestamp`; and one run at a time refreshes it — concurrent requests after
 * the expiry wait for that one run instead of starting their own.
 *
 * @module
 */
import type { Clock } from "../time/clock.ts";

/** The `ExecCredential` API versions client-go accepts. */
const API_VERSIONS = [
  "client.authentication.k8s.io/v1",
  "client.authentication.k8s.io/v1beta1",
];

/** A plugin's answer: the header, and until when it holds (monotonic ms; `undefined`: always). */
interface Credential {
  readonly header: string;
  readonly expiresAt: number | undefined;
}

/** What an `exec` entry needs to run. */
export interface ExecPlugin {
  /** The user's `exec` map from the kubeconfig. */
  readonly exec: Record<string, unknown>;
  /** The directory of the kubeconfig file that named the user. */
  readonly dir: string;
  /** The user's name, for errors. */
  readonly user: string;
  /** The cluster, sent to the plugin when `provideClusterInfo` is set. */
  readonly cluster: { server: string; "certificate-authority-data"?: string };
}

/** The command as client-go resolves it: relative with a separator → against `dir`. */
export function resolveCommand(command: string, dir: string): string {
  if (command.startsWith("/") || !command.includes("/")) return command;
  return `${dir}/${command}`;
}

/** Runs the plugin once and reads its credential. */
async function run(plugin: ExecPlugin, clock: Clock): Promise<Credential> {
  const { exec, dir, user } = plugin;
  const name = `user ${JSON.stringify(user)}: exec plugin`;
  const apiVersion = String(exec.apiVersion ?? "");
  if (!API_VERSIONS.includes(apiVersion)) {
    throw new Error(`${name}: apiVersion ${JSON.stringify(apiVersion)} is not supported`);
  }
  if (typeof exec.command !== "string" || exec.command === "") {
    throw new Error(`${name}: no command`);
  }
  const command = resolveCommand(exec.command, dir);
  const env: Record<string, string> = {};
  for (const item of Array.isArray(exec.env) ? exec.env : []) {
    const { name: key, value } = (item ?? {}) as { name?: unknown; value?: unknown };
    if (typeof key === "string") env[key] = String(value ?? "");
  }
  env.KUBERNETES_EXEC_INFO = JSON.stringify({
    apiVersion,
    kind: "ExecCredential",
    spec: {
      interactive: false,
      ...(exec.provideClusterInfo === true ? { cluster: plugin.cluster } : {}),
    },
  });
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(command, {
      args: Array.isArray(exec.args) ? exec.args.map(String) : [],
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (err) {
    const hint = typeof exec.installHint === "string" ? ` (${exec.installHint.trim()})` : "";
    throw new Error(`${name} ${command}: ${(err as Error).name}${hint}`);
  }
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr).trim().split("\n")[0] ?? "";
    throw new Error(`${name} ${command} exited with ${output.code}: ${stderr}`);
  }
  let status: Record<string, unknown>;
  try {
    const doc = JSON.parse(new TextDecoder().decode(output.stdout));
    if (doc.apiVersion !== apiVersion) {
      throw new Error(`apiVersion ${JSON.stringify(doc.apiVersion)}, expected ${apiVersion}`);
    }
    status = (doc.status ?? {}) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${name} ${command}: not an ExecCredential: ${(err as Error).message}`);
  }
  if (typeof status.token !== "string" || status.token === "") {
    throw new Error(
      `${name} ${command} gave no token (supported: a bearer token; a client certificate ` +
        `from a plugin is not)`,
    );
  }
  const expiry = typeof status.expirationTimestamp === "string"
    ? Date.parse(status.expirationTimestamp)
    : NaN;
  // The plugin's expiry is wall-clock time: turned once into the monotonic clock's terms.
  return {
    header: `Bearer ${status.token}`,
    expiresAt: Number.isNaN(expiry)
      ? undefined
      : clock.now() + (expiry - clock.wallNow().getTime()),
  };
}

/** The header of the next request, and what to call when the API server answered it 401. */
export interface ExecAuthorization {
  readonly authorization: () => Promise<string | undefined>;
  readonly unauthorized: (authorization: string) => void;
}

/**
 * The `Authorization` header of an `exec` user: the plugin's token, cached until it expires or
 * the API server refuses it (401).
 * Invariant: at most one run of the plugin at a time — callers arriving while it runs share its
 * result (client-go refreshes under a lock).
 *
 * @param plugin The user's `exec` entry and where it came from.
 * @param clock Decides when the token expired.
 * @returns `authorization`, giving the header for the next request (it rejects, one line, when
 *   the plugin fails), and `unauthorized`, to call with a header the API server answered 401.
 */
export function execAuthorization(
  plugin: ExecPlugin,
  clock: Clock,
): ExecAuthorization {
  let cached: Credential | undefined;
  let running: Promise<Credential> | undefined;
  const authorization = async () => {
    if (
      cached !== undefined && (cached.expiresAt === undefined || clock.now() < cached.expiresAt)
    ) {
      return cached.header;
    }
    running ??= run(plugin, clock).finally(() => running = undefined);
    cached = await running;
    return cached.header;
  };
  // client-go: a 401 to a request made with the cached token refreshes it on the next request;
  // a 401 for an older token (already replaced) changes nothing.
  const unauthorized = (header: string) => {
    if (cached?.header === header) cached = undefined;
  };
  return { authorization, unauthorized };
}
