/**
 * Process measurements for the benchmarks on the real API server: the kube-apiserver process of
 * the testenv harness, and CPU time and memory of any process from /proc (Deno reads
 * /proc/<pid> only with --allow-all, so through `cat`).
 *
 * @module
 */

async function text(argv: string[]): Promise<string> {
  const out = await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    stdout: "piped",
    stderr: "null",
  }).output();
  if (out.code !== 0) throw new Error(`${argv.join(" ")} exited with ${out.code}`);
  return new TextDecoder().decode(out.stdout);
}

/** The kube-apiserver process of a testenv harness (a child of its supervisor), if found. */
export async function apiServerPid(control: string | undefined): Promise<number | undefined> {
  if (control === undefined) return undefined;
  const status = await (await fetch(`${control}/status`)).json() as { pid?: number };
  if (!status.pid) return undefined;
  const children = (await text(["pgrep", "-P", String(status.pid)]).catch(() => "")).split("\n");
  for (const pid of children.filter(Boolean)) {
    const cmdline = await text(["cat", `/proc/${pid}/cmdline`]).catch(() => "");
    if (cmdline.includes("apiserver")) return Number(pid);
  }
  return undefined;
}

/** The testenv supervisor process (it embeds etcd), if found. */
export async function supervisorPid(control: string | undefined): Promise<number | undefined> {
  if (control === undefined) return undefined;
  const status = await (await fetch(`${control}/status`)).json() as { pid?: number };
  return status.pid || undefined;
}

/** CPU time (user + system) of a process so far, in ms; NaN without a pid. */
export async function cpuMs(pid: number | undefined): Promise<number> {
  if (pid === undefined) return NaN;
  const stat = await text(["cat", `/proc/${pid}/stat`]);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, USER_HZ 100
}

/** Current and peak resident memory of a process in MiB (VmRSS, VmHWM). */
export async function memoryMiB(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await text(["cat", `/proc/${pid}/status`]);
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(status)?.[1]);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}
