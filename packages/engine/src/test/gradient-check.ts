/**
 * Finite-difference gradient checking (float64): builds `f(parameters)`, reduces it to a
 * scalar with a fixed random projection, and compares the autodiff gradient of every
 * parameter element with a central difference. Used by the op-rule tests.
 */
import { Random } from "@posttrain/core";
import { gradients } from "../autodiff.js";
import { emitModel } from "../emit.js";
import { GraphBuilder, type GraphTensor } from "../graph.js";
import { compileGraph, type Feed } from "../runtime.js";

export interface GradientCheckCase {
  /** Parameter shapes (float64, initialised from a seeded normal). */
  parameters: Record<string, readonly number[]>;
  /** Data inputs with their fixed values. */
  inputs?: Record<
    string,
    { dtype: "float64" | "int64" | "bool"; dims: readonly number[]; values: readonly number[] }
  >;
  /** Builds the function; returns any float tensor. */
  build: (params: {
    graph: GraphBuilder;
    parameters: Record<string, GraphTensor>;
    inputs: Record<string, GraphTensor>;
  }) => GraphTensor;
  seed?: number;
  /** Offsets the initial parameter values (e.g. to keep sqrt/log arguments positive). */
  shift?: number;
  /** Finite-difference step (default 1e-6). */
  step?: number;
}

export interface GradientCheckResult {
  worstRelativeError: number;
  worstParameter: string;
  checkedElements: number;
}

const feedOf = (dtype: string, dims: readonly number[], values: readonly number[]): Feed => ({
  data:
    dtype === "int64"
      ? BigInt64Array.from(values.map((value) => BigInt(value)))
      : dtype === "bool"
        ? Uint8Array.from(values)
        : Float64Array.from(values),
  dims,
});

export async function checkGradients(testCase: GradientCheckCase): Promise<GradientCheckResult> {
  const random = Random.fromSeed(testCase.seed ?? 7);
  const graph = new GraphBuilder({ floatType: "float64" });
  const parameters: Record<string, GraphTensor> = {};
  for (const [name, shape] of Object.entries(testCase.parameters))
    parameters[name] = graph.parameter({ name, shape });
  const inputs: Record<string, GraphTensor> = {};
  for (const [name, input] of Object.entries(testCase.inputs ?? {})) {
    inputs[name] = graph.input({ name, dtype: input.dtype, shape: input.dims });
  }
  const output = testCase.build({ graph, parameters, inputs });
  const count = output.shape.reduce((a, b) => a * b.coefficient, 1);
  const projection = graph.constant({
    values: Array.from({ length: count }, () => random.nextNormal()),
    shape: output.shape.map((value) => value.coefficient),
  });
  const loss = graph.reduceSum(graph.mul(output, projection), { axes: output.shape.map((_, axis) => axis) });
  const names = Object.keys(parameters);
  const grads = gradients({ graph, loss, parameters: names.map((name) => parameters[name]!) });
  const outputs: Record<string, GraphTensor> = { loss };
  names.forEach((name, index) => {
    outputs[`grad_${name}`] = grads[index]!;
  });
  const full = await compileGraph({ model: emitModel({ graph, outputs }), threads: 1 });
  const forward = await compileGraph({ model: emitModel({ graph, outputs: { loss } }), threads: 1 });

  const values: Record<string, Float64Array> = {};
  for (const [name, shape] of Object.entries(testCase.parameters)) {
    const size = shape.reduce((a, b) => a * b, 1);
    values[name] = Float64Array.from({ length: size }, () => random.nextNormal() + (testCase.shift ?? 0));
  }
  const feeds = (): Record<string, Feed> => {
    const result: Record<string, Feed> = {};
    for (const [name, shape] of Object.entries(testCase.parameters))
      result[name] = { data: values[name]!, dims: shape };
    for (const [name, input] of Object.entries(testCase.inputs ?? {}))
      result[name] = feedOf(input.dtype, input.dims, input.values);
    return result;
  };
  const analytic = await full.run({ feeds: feeds() });
  const lossAt = async (): Promise<number> =>
    (await forward.run({ feeds: feeds() }))["loss"]!.data[0] as number;

  const step = testCase.step ?? 1e-6;
  let worstRelativeError = 0;
  let worstParameter = "";
  let checkedElements = 0;
  for (const name of names) {
    const data = values[name]!;
    const gradient = analytic[`grad_${name}`]!.data as Float64Array;
    for (let index = 0; index < data.length; index += 1) {
      const original = data[index]!;
      data[index] = original + step;
      const plus = await lossAt();
      data[index] = original - step;
      const minus = await lossAt();
      data[index] = original;
      const numeric = (plus - minus) / (2 * step);
      const error =
        Math.abs(numeric - gradient[index]!) / Math.max(1, Math.abs(numeric), Math.abs(gradient[index]!));
      if (error > worstRelativeError) {
        worstRelativeError = error;
        worstParameter = `${name}[${index}]`;
      }
      checkedElements += 1;
    }
  }
  return { worstRelativeError, worstParameter, checkedElements };
}
