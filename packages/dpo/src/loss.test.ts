import { compileGraph, emitModel, GraphBuilder, gradients } from "@posttrain/engine";
import { describe, expect, it } from "vitest";
import type { LossConfig } from "./config.js";
import { preferenceLoss } from "./loss.js";
import { pairLoss } from "./metrics.js";

/** Runs the graph loss on fixed per-pair log-probs; returns losses and ∂loss/∂πc. */
async function graphLoss(loss: LossConfig, values: Record<string, number[]>) {
  const graph = new GraphBuilder({ floatType: "float64" });
  const tensor = (name: string) => graph.parameter({ name, shape: [values[name]!.length] });
  const terms = {
    policyChosen: tensor("policyChosen"),
    policyRejected: tensor("policyRejected"),
    referenceChosen: tensor("referenceChosen"),
    referenceRejected: tensor("referenceRejected"),
    policyChosenMean: tensor("policyChosenMean"),
    policyRejectedMean: tensor("policyRejectedMean"),
  };
  const losses = preferenceLoss(graph, loss, terms);
  const total = graph.reduceSum(losses, { axes: [0] });
  const [gradient] = gradients({ graph, loss: total, parameters: [terms.policyChosen] });
  const compiled = await compileGraph({
    model: emitModel({ graph, outputs: { losses, gradient: gradient! } }),
    threads: 1,
  });
  const feeds = Object.fromEntries(
    Object.entries(values).map(([name, data]) => [
      name,
      { data: Float64Array.from(data), dims: [data.length] },
    ]),
  );
  const result = await compiled.run({ feeds });
  return {
    losses: Array.from(result["losses"]!.data as Float64Array),
    gradient: Array.from(result["gradient"]!.data as Float64Array),
  };
}

// Two pairs: πc, πr, ρc, ρr (sums) and π̄c, π̄r (means).
const values = {
  policyChosen: [-5, -12],
  policyRejected: [-7, -9],
  referenceChosen: [-6, -10],
  referenceRejected: [-6.5, -10.5],
  policyChosenMean: [-1.25, -3],
  policyRejectedMean: [-1.75, -2.25],
};
const logSigmoid = (x: number) => -Math.log1p(Math.exp(-x));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

describe("preference losses against hand-computed values", () => {
  it("dpo: −logσ(β((πc−πr)−(ρc−ρr))), gradient −β·σ(−βz)", async () => {
    const loss: LossConfig = { type: "dpo", beta: 0.1, labelSmoothing: 0, gammaBetaRatio: 0.3 };
    // pair 0: z = (−5+7) − (−6+6.5) = 1.5; pair 1: z = (−12+9) − (−10+10.5) = −3.5
    const result = await graphLoss(loss, values);
    expect(result.losses[0]).toBeCloseTo(-logSigmoid(0.15), 12);
    expect(result.losses[1]).toBeCloseTo(-logSigmoid(-0.35), 12);
    expect(result.gradient[0]).toBeCloseTo(-0.1 * sigmoid(-0.15), 12);
    expect(result.gradient[1]).toBeCloseTo(-0.1 * sigmoid(0.35), 12);
  });

  it("dpo with label smoothing (cDPO): (1−ε)·−logσ(βz) + ε·−logσ(−βz)", async () => {
    const loss: LossConfig = { type: "dpo", beta: 0.5, labelSmoothing: 0.2, gammaBetaRatio: 0.3 };
    const result = await graphLoss(loss, values);
    expect(result.losses[0]).toBeCloseTo(-0.8 * logSigmoid(0.75) - 0.2 * logSigmoid(-0.75), 12);
    expect(result.losses[1]).toBeCloseTo(-0.8 * logSigmoid(-1.75) - 0.2 * logSigmoid(1.75), 12);
  });

  it("dpo_norm: the dpo formula on the length-averaged inputs it is given (β = 5)", async () => {
    const loss: LossConfig = { type: "dpo_norm", beta: 5, labelSmoothing: 0, gammaBetaRatio: 0.3 };
    // The graph feeds averaged log-probs as πc/πr/ρc/ρr for dpo_norm; same values here.
    const result = await graphLoss(loss, values);
    expect(result.losses[0]).toBeCloseTo(-logSigmoid(7.5), 12);
    expect(result.losses[1]).toBeCloseTo(-logSigmoid(-17.5), 10);
  });

  it("simpo: −logσ(β(π̄c − π̄r) − γ), γ = gammaBetaRatio·β, no reference", async () => {
    const loss: LossConfig = { type: "simpo", beta: 2, labelSmoothing: 0, gammaBetaRatio: 0.5 };
    const result = await graphLoss(loss, values);
    // pair 0: 2·(−5+7) − 1 = 3; pair 1: 2·(−12+9) − 1 = −7
    expect(result.losses[0]).toBeCloseTo(-logSigmoid(3), 12);
    expect(result.losses[1]).toBeCloseTo(-logSigmoid(-7), 12);
  });

  it("wpo: dpo loss × min(1, exp(π̄c + π̄r))", async () => {
    const loss: LossConfig = { type: "wpo", beta: 0.1, labelSmoothing: 0, gammaBetaRatio: 0.3 };
    const result = await graphLoss(loss, values);
    expect(result.losses[0]).toBeCloseTo(-logSigmoid(0.15) * Math.exp(-3), 12);
    expect(result.losses[1]).toBeCloseTo(-logSigmoid(-0.35) * Math.exp(-5.25), 12);
  });

  it("the float64 metrics formula agrees with the graph for every loss type", async () => {
    for (const type of ["dpo", "dpo_norm", "simpo", "wpo"] as const) {
      const loss: LossConfig = { type, beta: 0.7, labelSmoothing: 0.1, gammaBetaRatio: 0.4 };
      const result = await graphLoss(loss, values);
      result.losses.forEach((value, index) => {
        const pair = {
          policyChosen: values.policyChosen[index]!,
          policyRejected: values.policyRejected[index]!,
          referenceChosen: values.referenceChosen[index]!,
          referenceRejected: values.referenceRejected[index]!,
          policyChosenMean: values.policyChosenMean[index]!,
          policyRejectedMean: values.policyRejectedMean[index]!,
        };
        expect(pairLoss(loss, pair)).toBeCloseTo(value, 12);
      });
    }
  });
});
