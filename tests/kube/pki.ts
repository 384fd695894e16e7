/**
 * Test PKI made with openssl at test time, in a temporary directory: CAs, server certificates
 * for 127.0.0.1 / ::1 / names, and client certificates with RSA (PKCS#1), EC (SEC1), PKCS#8 and
 * Ed25519 keys — the key formats a kubeconfig's `client-key` may hold.
 */

/** The formats of a private key file. */
export type KeyType = "rsa" | "ec" | "pkcs8" | "ed25519";

async function openssl(dir: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Writes a private key of `type` to `dir/name.key`. */
async function genKey(dir: string, name: string, type: KeyType): Promise<string> {
  const file = `${name}.key`;
  if (type === "rsa") await openssl(dir, "genrsa", "-traditional", "-out", file, "2048");
  else if (type === "ec") {
    await openssl(dir, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", file);
  } else if (type === "pkcs8") {
    await openssl(
      dir,
      "genpkey",
      "-algorithm",
      "RSA",
      "-pkeyopt",
      "rsa_keygen_bits:2048",
      "-out",
      file,
    );
  } else await openssl(dir, "genpkey", "-algorithm", "ED25519", "-out", file);
  return `${dir}/${file}`;
}

/** A certificate and its key: paths and PEM texts. */
export interface Issued {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: string;
  readonly key: string;
}

/** Makes a self-signed CA `name` in `dir`. */
export async function makeCa(dir: string, name: string): Promise<Issued> {
  const keyFile = await genKey(dir, name, "rsa");
  await openssl(
    dir,
    "req",
    "-x509",
    "-new",
    "-key",
    keyFile,
    "-out",
    `${name}.crt`,
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
  );
  const certFile = `${dir}/${name}.crt`;
  return {
    certFile,
    keyFile,
    cert: await Deno.readTextFile(certFile),
    key: await Deno.readTextFile(keyFile),
  };
}

/**
 * Issues a certificate `name` signed by `ca`: a server certificate when `san` is given
 * (`IP:127.0.0.1,DNS:localhost`), else a client certificate with subject `subject`.
 */
export async function issue(
  dir: string,
  ca: Issued,
  name: string,
  opts: { san?: string; subject?: string; keyType?: KeyType } = {},
): Promise<Issued> {
  const keyFile = await genKey(dir, name, opts.keyType ?? "rsa");
  await openssl(
    dir,
    "req",
    "-new",
    "-key",
    keyFile,
    "-out",
    `${name}.csr`,
    "-subj",
    opts.subject ?? `/CN=${name}`,
  );
  const ext = opts.san === undefined
    ? "extendedKeyUsage=clientAuth\n"
    : `subjectAltName=${opts.san}\nextendedKeyUsage=serverAuth\n`;
  await Deno.writeTextFile(`${dir}/${name}.ext`, ext);
  await openssl(
    dir,
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    ca.certFile,
    "-CAkey",
    ca.keyFile,
    "-CAcreateserial",
    "-out",
    `${name}.crt`,
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
  );
  const certFile = `${dir}/${name}.crt`;
  return {
    certFile,
    keyFile,
    cert: await Deno.readTextFile(certFile),
    key: await Deno.readTextFile(keyFile),
  };
}
