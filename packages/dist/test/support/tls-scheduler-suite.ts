/** A scheduler process serving TLS with certificates made for it, shared by the tests of one describe block. */
import { afterAll, beforeAll } from "vitest";
import { startSchedulerProcess, tempDir, type SchedulerProcess } from "./scheduler-process.js";
import { makeCertificates, type TestCertificates } from "./test-certificates.js";

export interface TlsSchedulerSuite {
  /** Set once the suite's beforeAll has run. */
  certs: TestCertificates;
  s: SchedulerProcess;
}

/**
 * Call inside a describe block: before its tests, makes certificates in a
 * fresh directory named after `prefix` and starts a scheduler whose `tls`
 * config `tls(certs)` gives; after them, stops it and removes the directory.
 */
export function tlsSchedulerSuite(prefix: string, tls: (certs: TestCertificates) => Record<string, unknown>): TlsSchedulerSuite {
  const dir = tempDir(prefix);
  const suite = {} as TlsSchedulerSuite;
  beforeAll(async () => {
    suite.certs = makeCertificates(dir.path);
    suite.s = await startSchedulerProcess({ config: { tls: tls(suite.certs) } });
  });
  afterAll(async () => {
    await suite.s?.stop();
    dir.remove();
  });
  return suite;
}
