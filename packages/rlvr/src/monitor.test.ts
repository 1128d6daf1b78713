import { describe, expect, it } from "vitest";
import { OverOptimizationMonitor } from "./monitor.js";

describe("over-optimisation monitor", () => {
  it("warns when the training reward rises while held-out accuracy falls, and when KL passes the bound", () => {
    const monitor = new OverOptimizationMonitor({ klBound: 0.5 });
    expect(monitor.check({ step: 0, heldOutAccuracy: 0.2, kl: 0 }).warnings).toEqual([]);
    monitor.recordReward(1);
    monitor.recordReward(3);
    const rising = monitor.check({ step: 2, heldOutAccuracy: 0.5, kl: 0.1 });
    expect(rising).toMatchObject({ trainingReward: 2, warnings: [] });
    monitor.recordReward(6);
    const hacked = monitor.check({ step: 3, heldOutAccuracy: 0.4, kl: 0.7 });
    expect(hacked.warnings).toHaveLength(2);
    expect(hacked.warnings[0]).toContain("held-out accuracy fell");
    expect(hacked.warnings[1]).toContain("passed the bound 0.5");
    // Restored state continues the comparison.
    const copy = new OverOptimizationMonitor({ klBound: null });
    copy.restore(JSON.parse(JSON.stringify(monitor.state())));
    copy.recordReward(5);
    expect(copy.check({ step: 4, heldOutAccuracy: 0.45, kl: 0.7 }).warnings).toEqual([]);
  });
});
