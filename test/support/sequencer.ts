import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The order of a run. Unit tests first: they need nothing, and run while the global setup makes the databases'
 * fixtures. Then integration, then browser files. A worker is kept only for the next file of its project, so each
 * project's files stay together. Within a project the files that take longest (docs/performance.md, "Test suite
 * time") start first, so that neither worker is left with a long file at the end; vitest's own order follows (by the
 * last run's durations when it has them, else by size).
 */
const PROJECTS = ["unit", "integration", "e2e"];
const SLOWEST = [
  "integration/audit-integrity.test.ts",
  "integration/audit-export-scale.test.ts",
  "integration/audit-trail.test.ts",
  "integration/access-model.test.ts",
  "integration/fuzz-actions.test.ts",
  "e2e/personas.test.ts",
  "e2e/language.test.ts",
];

export class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const project = (spec: TestSpecification) => PROJECTS.indexOf(spec.project.name);
    const rank = (spec: TestSpecification) => {
      const at = SLOWEST.findIndex((name) => spec.moduleId.endsWith(name));
      return at === -1 ? SLOWEST.length : at;
    };
    return sorted
      .map((spec, index) => ({ spec, index }))
      .sort((a, b) => project(a.spec) - project(b.spec) || rank(a.spec) - rank(b.spec) || a.index - b.index)
      .map(({ spec }) => spec);
  }
}
