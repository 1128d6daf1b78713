/**
 * Over-optimisation monitor: at each check it compares the mean training reward since the
 * previous check and the held-out accuracy (greedy answers to held-out prompts, same
 * verifiers) with the previous check's, and warns when the training reward rose while held-out
 * accuracy fell (reward hacking / over-fitting the training prompts), or when the KL to the
 * reference passes the bound. Its state travels in checkpoints.
 */
export interface OverOptimizationCheck {
  step: number;
  heldOutAccuracy: number;
  /** Mean training reward of the steps since the previous check (null at the first check). */
  trainingReward: number | null;
  kl: number;
  warnings: string[];
}

export class OverOptimizationMonitor {
  checks: OverOptimizationCheck[] = [];
  private rewards: number[] = [];

  constructor(private readonly params: { klBound: number | null }) {}

  recordReward(reward: number): void {
    this.rewards.push(reward);
  }

  check(params: { step: number; heldOutAccuracy: number; kl: number }): OverOptimizationCheck {
    const trainingReward =
      this.rewards.length === 0 ? null : this.rewards.reduce((a, b) => a + b, 0) / this.rewards.length;
    this.rewards = [];
    const previous =
      [...this.checks].reverse().find((check) => check.trainingReward !== null) ?? this.checks.at(-1);
    const warnings: string[] = [];
    if (
      previous !== undefined &&
      previous.trainingReward !== null &&
      trainingReward !== null &&
      trainingReward > previous.trainingReward &&
      params.heldOutAccuracy < previous.heldOutAccuracy
    ) {
      warnings.push(
        `training reward rose (${previous.trainingReward.toFixed(3)} → ${trainingReward.toFixed(3)}) while held-out accuracy fell (${previous.heldOutAccuracy.toFixed(3)} → ${params.heldOutAccuracy.toFixed(3)})`,
      );
    }
    if (this.params.klBound !== null && params.kl > this.params.klBound)
      warnings.push(`KL to the reference ${params.kl.toFixed(4)} passed the bound ${this.params.klBound}`);
    const check = {
      step: params.step,
      heldOutAccuracy: params.heldOutAccuracy,
      trainingReward,
      kl: params.kl,
      warnings,
    };
    this.checks.push(check);
    return check;
  }

  state(): { checks: OverOptimizationCheck[]; rewards: number[] } {
    return { checks: this.checks, rewards: this.rewards };
  }

  restore(saved: unknown): void {
    if (typeof saved !== "object" || saved === null) return;
    const value = saved as { checks?: OverOptimizationCheck[]; rewards?: number[] };
    this.checks = value.checks ?? [];
    this.rewards = value.rewards ?? [];
  }
}
