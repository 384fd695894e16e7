/**
 * Task authenticity: HMAC-SHA256 (WebCrypto) over the canonical JSON of
 * `{epoch, name, round, spec}`, hex encoded in the `signature` annotation. Only pods holding the
 * key (mounted from a Secret) can make a task a worker will run.
 *
 * @module
 */
import { canonicalJson, type TaskView } from "./contract.ts";
import { readTextCapped, TOKEN_FILE_CAP } from "../files/bounded_read.ts";

/** What a signature covers. `spec` is the `spec` data key verbatim. */
export interface SignedFields {
  readonly name: string;
  readonly round: string;
  readonly epoch: number;
  readonly spec: string;
}

/** Signs and verifies tasks. */
export interface TaskSigner {
  /** @returns The hex HMAC of the fields. */
  sign(fields: SignedFields): Promise<string>;
  /** @returns Whether `signature` is the HMAC of the fields (constant-time comparison). */
  verify(fields: SignedFields, signature: string): Promise<boolean>;
}

/** The bytes a signature is computed over. */
export function signedPayload(fields: SignedFields): Uint8Array {
  return new TextEncoder().encode(canonicalJson({
    epoch: fields.epoch,
    name: fields.name,
    round: fields.round,
    spec: fields.spec,
  }));
}

function toHex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(hex: string): Uint8Array | undefined {
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-f]+$/i.test(hex)) return undefined;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * An HMAC-SHA256 {@linkcode TaskSigner}.
 *
 * @example Usage
 * ```ts
 * import { HmacSigner } from "./signing.ts";
 * import assert from "node:assert/strict";
 * const signer = await HmacSigner.fromKey(new TextEncoder().encode("secret"));
 * const fields = { name: "t-1", round: "r", epoch: 1, spec: "{}" };
 * const sig = await signer.sign(fields);
 * assert.equal(await signer.verify(fields, sig), true);
 * assert.equal(await signer.verify({ ...fields, epoch: 2 }, sig), false);
 * ```
 */
export class HmacSigner implements TaskSigner {
  readonly #key: CryptoKey;

  private constructor(key: CryptoKey) {
    this.#key = key;
  }

  /**
   * @param key The raw key bytes.
   * @throws {RangeError} When the key is empty.
   */
  static async fromKey(key: Uint8Array): Promise<HmacSigner> {
    if (key.length === 0) throw new RangeError("Cannot sign tasks with an empty key");
    const cryptoKey = await crypto.subtle.importKey(
      "raw",
      new Uint8Array(key),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    return new HmacSigner(cryptoKey);
  }

  async sign(fields: SignedFields): Promise<string> {
    const payload = new Uint8Array(signedPayload(fields));
    return toHex(await crypto.subtle.sign("HMAC", this.#key, payload));
  }

  async verify(fields: SignedFields, signature: string): Promise<boolean> {
    const bytes = fromHex(signature);
    if (bytes === undefined) return false;
    // WebCrypto's verify compares in constant time.
    const payload = new Uint8Array(signedPayload(fields));
    return await crypto.subtle.verify("HMAC", this.#key, new Uint8Array(bytes), payload);
  }
}

/**
 * Reads the signing key from `tasks.signingKeyFile` (surrounding whitespace trimmed, so a Secret
 * written with a trailing newline works).
 *
 * @param path The file.
 * @param readTextFile Reads the file (tests). Default: at most `TOKEN_FILE_CAP` bytes
 *   (`lib/files/bounded_read.ts`).
 * @returns The key bytes.
 * @throws {Error} A one-line message when the file is missing, unreadable or empty.
 */
export async function loadSigningKey(
  path: string,
  readTextFile: (path: string) => Promise<string> = (p) => readTextCapped(p, TOKEN_FILE_CAP),
): Promise<Uint8Array> {
  let text: string;
  try {
    text = await readTextFile(path);
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound ? "does not exist" : String(err);
    throw new Error(`Cannot read tasks.signingKeyFile ${path}: ${why}`);
  }
  const key = text.trim();
  if (key === "") throw new Error(`Cannot use tasks.signingKeyFile ${path}: the file is empty`);
  return new TextEncoder().encode(key);
}

/**
 * The rule: tasks are signed, unless `tasks.insecureUnsignedTasks` accepts unsigned ones.
 *
 * @param hasKey Whether a key (or a signer) is there.
 * @throws {TypeError} When there is none and unsigned tasks are not allowed.
 */
export function requireSigningKey(
  hasKey: boolean,
  tasks: { readonly insecureUnsignedTasks: boolean },
): void {
  if (hasKey || tasks.insecureUnsignedTasks) return;
  throw new TypeError(
    "Cannot run tasks without a signing key: set tasks.signingKeyFile (or " +
      "tasks.insecureUnsignedTasks: true to accept unsigned tasks)",
  );
}

/** The signature of `fields`, or "" without a signer (`tasks.insecureUnsignedTasks`). */
export async function signatureFor(
  signer: TaskSigner | undefined,
  fields: SignedFields,
): Promise<string> {
  return signer ? await signer.sign(fields) : "";
}

/**
 * Why `task` is not authentically signed with `signer`'s key (for its own epoch), or `undefined`
 * when it is. A worker runs, and a leader re-stamps, only tasks for which this is `undefined`.
 */
export async function signatureProblem(
  signer: TaskSigner,
  task: Pick<TaskView, "name" | "round" | "epoch" | "specText" | "signature">,
): Promise<string | undefined> {
  if (task.signature === "") return "unsigned task";
  if (task.epoch === undefined) return "missing or invalid leader-epoch annotation";
  const fields = { name: task.name, round: task.round, epoch: task.epoch, spec: task.specText };
  return await signer.verify(fields, task.signature) ? undefined : "bad signature";
}

/**
 * The signer leader and worker modes use, from the `tasks` config.
 *
 * @returns A signer, or `undefined` when `insecureUnsignedTasks` allows running without a key.
 * @throws {Error} When no key file is configured and unsigned tasks are not allowed, or the
 *   file cannot be used.
 */
export async function signerFromConfig(
  tasks: { signingKeyFile: string; insecureUnsignedTasks: boolean },
): Promise<TaskSigner | undefined> {
  if (tasks.signingKeyFile === "") {
    requireSigningKey(false, tasks);
    return undefined;
  }
  return await HmacSigner.fromKey(await loadSigningKey(tasks.signingKeyFile));
}
