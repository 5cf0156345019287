import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The files that take longest, measured (docs/performance.md, "Test suite time"). With two workers a long file that
 * starts last is the run's tail, so these start first in their project; vitest's own order (by the last run's
 * durations when it has them, else by size) follows.
 */
const SLOWEST = [
  "e2e/personas.test.ts",
  "e2e/onboarding.test.ts",
  "integration/audit-export-scale.test.ts",
  "integration/audit-integrity.test.ts",
  "integration/audit-trail.test.ts",
  "integration/access-model.test.ts",
];

export class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification) => {
      const at = SLOWEST.findIndex((name) => spec.moduleId.endsWith(name));
      return at === -1 ? SLOWEST.length : at;
    };
    // Projects stay together (a worker is kept only for the next file of its project); within one, slowest first.
    return sorted
      .map((spec, index) => ({ spec, index }))
      .sort((a, b) => (a.spec.project.name === b.spec.project.name ? rank(a.spec) - rank(b.spec) || a.index - b.index : a.index - b.index))
      .map(({ spec }) => spec);
  }
}
