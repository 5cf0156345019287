import { onTestFinished, vi } from "vitest";

/**
 * A controllable clock for the server under test: only Date is faked, so timers and database I/O keep running.
 * Times start a day after the real now (grants seeded just before must already be valid) and only move forward.
 */
export class TestClock {
  private now: number;
  constructor(start = Date.now() + 24 * 60 * 60 * 1000) {
    this.now = Math.ceil(start / 60_000) * 60_000;
  }

  start(): this {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(this.now);
    return this;
  }

  stop(): void {
    vi.useRealTimers();
  }

  advance(ms: number): Date {
    this.now += ms;
    vi.setSystemTime(this.now);
    return new Date(this.now);
  }

  current(): Date {
    return new Date(this.now);
  }
}

/** A TestClock started for the rest of the current test (from `start`, rounded up to the minute) and stopped after it. */
export function startTestClock(start?: number): TestClock {
  const clock = new TestClock(start).start();
  onTestFinished(() => clock.stop());
  return clock;
}

export const MINUTE = 60 * 1000;
export const HOUR = 60 * MINUTE;
