import { makePgliteSnapshots, recordOutcome, type DatabaseFixtures } from "./database-fixtures";

/**
 * The global setup runs this in a process of its own (node --import tsx): PGlite's initdb holds its thread for
 * seconds, and the test runner's main process must keep serving its workers meanwhile.
 * Arguments: the run folder, and the snapshot files to write (JSON).
 */
const [runDir, files] = [process.argv[2]!, JSON.parse(process.argv[3]!) as DatabaseFixtures["pglite"]];
try {
  await makePgliteSnapshots(files);
  recordOutcome(runDir, "pglite");
} catch (error) {
  recordOutcome(runDir, "pglite", error);
  process.exitCode = 1;
}
