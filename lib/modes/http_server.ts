/**
 * What the mcall API (`serve.ts`) and the probe server (`probes.ts`) share: starting a server with
 * a one-line error naming the setting, and plain-text responses.
 *
 * @module
 */
import { ConfigError } from "../config/layer.ts";

/**
 * Starts a server, turning a bind failure into one line naming the setting: the port in use, an
 * address this machine does not have, a privileged port.
 *
 * @throws {ConfigError} When the address cannot be bound.
 */
export function bindServer<T>(section: string, host: string, port: number, serve: () => T): T {
  try {
    return serve();
  } catch (err) {
    const where = `${host}:${port}`;
    if (err instanceof Deno.errors.AddrInUse) {
      throw new ConfigError(`${section}.port: ${where} is already in use`);
    }
    if (err instanceof Deno.errors.PermissionDenied && port < 1024) {
      throw new ConfigError(`${section}.port: ${where} needs privileges (use a port >= 1024)`);
    }
    const reason = String((err as Error)?.message ?? err).split("\n")[0];
    throw new ConfigError(`${section}.host: cannot listen on ${where}: ${reason}`);
  }
}

/**
 * A plain-text response; the body ends with a newline. `nosniff` keeps a browser from reading an
 * error line that quotes the request as anything but text.
 */
export function plainText(
  status: number,
  body: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(body.endsWith("\n") ? body : body + "\n", {
    status,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "x-content-type-options": "nosniff",
      ...headers,
    },
  });
}
