/**
 * A throw-away certificate authority and a server certificate for localhost/127.0.0.1, made with the
 * `openssl` CLI, so tests can run Redis (`rediss://`) and PostgreSQL (`sslmode=require`) over real TLS.
 * EC P-256 keys: generating them takes milliseconds, RSA would take seconds on a busy box.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "../support/net.ts";

/** Paths of the generated PEM files. */
export interface TestCertificates {
  /** The CA certificate clients trust (ssl.ca.location, NODE_EXTRA_CA_CERTS, sslrootcert). */
  ca: string;
  /** Server certificate (CN=localhost, SAN localhost and 127.0.0.1), signed by the CA. */
  cert: string;
  /** The server certificate's private key (unencrypted). */
  key: string;
}

/** True when the `openssl` CLI is on PATH. */
export const opensslAvailable = Bun.which("openssl") !== null;

/** Writes a CA and a localhost server certificate into `dir` (which must exist). */
export async function makeTestCertificates(dir: string): Promise<TestCertificates> {
  const p = (name: string) => join(dir, name);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run(["openssl", "req", "-x509", ...ec, "-days", "2", "-subj", "/CN=topofleet-test-ca", "-keyout", p("ca.key"), "-out", p("ca.crt")]);
  await run(["openssl", "req", ...ec, "-subj", "/CN=localhost", "-keyout", p("server.key"), "-out", p("server.csr")]);
  writeFileSync(p("server.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  await run([
    "openssl", "x509", "-req", "-in", p("server.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial",
    "-days", "2", "-extfile", p("server.ext"), "-out", p("server.crt"),
  ]);
  return { ca: p("ca.crt"), cert: p("server.crt"), key: p("server.key") };
}
