/**
 * The preference losses as graph ops (see {@link lossConfigSchema} for the formulas). Every
 * input is a `[batch]` tensor; the output is the per-pair loss `[batch]`, differentiable
 * through the policy terms. softplus is written stably: max(x, 0) + log(1 + e^−|x|).
 */
import type { GraphBuilder, GraphTensor } from "@posttrain/engine";
import type { LossConfig } from "./config.js";

export function softplus(graph: GraphBuilder, x: GraphTensor): GraphTensor {
  const absolute = graph.maximum(x, graph.neg(x));
  return graph.add(
    graph.maximum(x, graph.scalar(0)),
    graph.log(graph.add(graph.scalar(1), graph.exp(graph.neg(absolute)))),
  );
}

export interface PreferenceTerms {
  /** Policy completion log-probs, summed or length-averaged as the loss type says. */
  policyChosen: GraphTensor;
  policyRejected: GraphTensor;
  /** Reference log-probs in the same reduction (unused by `simpo`). */
  referenceChosen: GraphTensor | null;
  referenceRejected: GraphTensor | null;
  /** Policy length-averaged log-probs (the WPO weight). */
  policyChosenMean: GraphTensor;
  policyRejectedMean: GraphTensor;
}

/** The preference logit z (before β) for the loss type. */
export function preferenceLogit(graph: GraphBuilder, loss: LossConfig, terms: PreferenceTerms): GraphTensor {
  const policy = graph.sub(terms.policyChosen, terms.policyRejected);
  if (loss.type === "simpo") return graph.sub(policy, graph.scalar(loss.gammaBetaRatio));
  return graph.sub(policy, graph.sub(terms.referenceChosen!, terms.referenceRejected!));
}

/** Per-pair loss `[batch]`. */
export function preferenceLoss(graph: GraphBuilder, loss: LossConfig, terms: PreferenceTerms): GraphTensor {
  const scaled = graph.mul(preferenceLogit(graph, loss, terms), graph.scalar(loss.beta));
  let losses = graph.mul(softplus(graph, graph.neg(scaled)), graph.scalar(1 - loss.labelSmoothing));
  if (loss.labelSmoothing > 0)
    losses = graph.add(losses, graph.mul(softplus(graph, scaled), graph.scalar(loss.labelSmoothing)));
  if (loss.type === "wpo") {
    // min(1, exp(π̄c + π̄r)) = −max(−exp(·), −1)
    const weight = graph.neg(
      graph.maximum(
        graph.neg(graph.exp(graph.add(terms.policyChosenMean, terms.policyRejectedMean))),
        graph.scalar(-1),
      ),
    );
    losses = graph.mul(losses, weight);
  }
  return losses;
}
