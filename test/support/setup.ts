import { afterAll, afterEach, beforeEach, vi } from "vitest";

/** console.error during a test fails it: an error printed is an error missed. */
let errors: unknown[][] = [];
beforeEach(() => {
  errors = [];
  vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => {
    errors.push(args);
  });
});
afterEach(() => {
  vi.mocked(console.error).mockRestore();
  if (errors.length > 0) {
    const first = errors[0]!.map((a) => (a instanceof Error ? a.stack : String(a))).join(" ");
    throw new Error(`console.error was called during the test: ${first}`);
  }
});

// Integration and browser files share a worker process one after another (isolate: false): a file that leaves the
// clock faked must not hand it to the next.
afterAll(() => {
  vi.useRealTimers();
});
