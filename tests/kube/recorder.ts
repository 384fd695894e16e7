/**
 * The recording HTTPS server (tests/kube/recorder, Go's TLS and HTTP/2 stack, as kube-apiserver)
 * started as a subprocess: every request's method, path, protocol, SNI, headers and client
 * certificate subject, and with `proxy` the targets of an HTTP CONNECT proxy's tunnels.
 */
import { fileURLToPath } from "node:url";

const DIR = fileURLToPath(new URL("./recorder/", import.meta.url));

/** One request as the server saw it. */
export interface Recorded {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly proto: string;
  readonly sni: string;
  readonly headers: Record<string, string[]>;
  readonly client: string;
}

let built: Promise<string> | undefined;

/** Builds the recorder once per test process (Go's build cache makes it fast). */
function build(): Promise<string> {
  built ??= (async () => {
    const bin = `${await Deno.makeTempDir()}/recorder`;
    const out = await new Deno.Command(Deno.env.get("DZ_TESTENV_GO") ?? "go", {
      args: ["build", "-o", bin, "."],
      cwd: DIR,
      env: { GOTOOLCHAIN: "local", CGO_ENABLED: "0", GOFLAGS: "-mod=mod" },
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(`go build: ${new TextDecoder().decode(out.stderr)}`);
    return bin;
  })();
  return built;
}

/** A running recorder. */
export class Recorder {
  readonly requests: Recorded[] = [];
  readonly connects: string[] = [];
  #child: Deno.ChildProcess;
  #done: Promise<void>;
  /** `host:port` of the HTTPS server, and of the CONNECT proxy (empty without `proxy`). */
  listen = "";
  proxy = "";

  private constructor(child: Deno.ChildProcess, ready: (r: Recorder) => void) {
    this.#child = child;
    this.#done = (async () => {
      let buffer = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        let nl;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = JSON.parse(buffer.slice(0, nl));
          buffer = buffer.slice(nl + 1);
          if ("listen" in line) {
            this.listen = line.listen;
            this.proxy = line.proxy;
            ready(this);
          } else if ("connect" in line) this.connects.push(line.connect);
          else this.requests.push(line);
        }
      }
    })();
  }

  /** Starts a recorder with the server certificate `cert`/`key`. */
  static async start(opts: {
    cert: string;
    key: string;
    clientCa?: string;
    proxy?: boolean;
    listen?: string;
  }): Promise<Recorder> {
    const bin = await build();
    const child = new Deno.Command(bin, {
      args: [
        `-cert=${opts.cert}`,
        `-key=${opts.key}`,
        `-listen=${opts.listen ?? "127.0.0.1:0"}`,
        ...(opts.clientCa ? [`-client-ca=${opts.clientCa}`] : []),
        ...(opts.proxy ? ["-proxy"] : []),
      ],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    return await new Promise<Recorder>((resolve) => new Recorder(child, resolve));
  }

  /** `https://host:port` of the server. */
  get url(): string {
    return `https://${this.listen}`;
  }

  async close(): Promise<void> {
    this.#child.kill();
    await this.#child.status;
    await this.#done;
  }
}
