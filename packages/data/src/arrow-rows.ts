import {
  Bool,
  type DataType,
  Field,
  Float64,
  List,
  Null,
  Struct,
  Table,
  Utf8,
  Vector,
  vectorFromArray,
} from "apache-arrow";

/**
 * Conversion between JSON-like rows and Arrow tables.
 *
 * apache-arrow's own `tableFromJSON` cannot infer a type from nulls or from objects whose
 * fields vary, both common in JSONL datasets, so the type is inferred here by merging every
 * value: null merges with anything (the column becomes nullable), numbers are Float64,
 * arrays are Lists of their merged element type, objects Structs over the union of their
 * fields. Values whose types conflict (a string here, a number there) become Utf8 holding
 * the value's JSON text, so nothing is lost.
 */
type Shape =
  | { kind: "null" }
  | { kind: "bool" }
  | { kind: "number" }
  | { kind: "string" }
  | { kind: "json" }
  | { kind: "list"; element: Shape }
  | { kind: "struct"; fields: Map<string, Shape> };

const nullShape: Shape = { kind: "null" };

function shapeOf(value: unknown): Shape {
  if (value === null || value === undefined) return nullShape;
  if (typeof value === "boolean") return { kind: "bool" };
  if (typeof value === "number" || typeof value === "bigint") return { kind: "number" };
  if (typeof value === "string") return { kind: "string" };
  if (Array.isArray(value)) {
    let element: Shape = nullShape;
    for (const item of value) element = mergeShapes(element, shapeOf(item));
    return { kind: "list", element };
  }
  if (typeof value === "object") {
    const fields = new Map<string, Shape>();
    for (const [key, item] of Object.entries(value)) fields.set(key, shapeOf(item));
    return { kind: "struct", fields };
  }
  return { kind: "json" };
}

function mergeShapes(left: Shape, right: Shape): Shape {
  if (left.kind === "null") return right;
  if (right.kind === "null") return left;
  if (left.kind === "list" && right.kind === "list")
    return { kind: "list", element: mergeShapes(left.element, right.element) };
  if (left.kind === "struct" && right.kind === "struct") {
    const fields = new Map(left.fields);
    for (const [key, shape] of right.fields)
      fields.set(key, mergeShapes(fields.get(key) ?? nullShape, shape));
    return { kind: "struct", fields };
  }
  return left.kind === right.kind ? left : { kind: "json" };
}

function arrowType(shape: Shape): DataType {
  switch (shape.kind) {
    case "null":
      return new Null();
    case "bool":
      return new Bool();
    case "number":
      return new Float64();
    case "string":
    case "json":
      return new Utf8();
    case "list":
      return new List(new Field("item", arrowType(shape.element), true));
    case "struct":
      return new Struct([...shape.fields].map(([name, field]) => new Field(name, arrowType(field), true)));
  }
}

function conform(value: unknown, shape: Shape): unknown {
  if (value === null || value === undefined) return null;
  switch (shape.kind) {
    case "json":
      return typeof value === "string" ? value : JSON.stringify(value);
    case "number":
      return Number(value);
    case "list":
      return (value as unknown[]).map((item) => conform(item, shape.element));
    case "struct": {
      const result: Record<string, unknown> = {};
      for (const [key, field] of shape.fields)
        result[key] = conform((value as Record<string, unknown>)[key], field);
      return result;
    }
    default:
      return value;
  }
}

/** Builds an Arrow table from JSON-like rows (columns = union of the rows' keys). */
export function tableFromRows(rows: readonly Record<string, unknown>[]): Table {
  const columns = new Map<string, Shape>();
  for (const row of rows) {
    for (const [key, value] of Object.entries(row))
      columns.set(key, mergeShapes(columns.get(key) ?? nullShape, shapeOf(value)));
  }
  const vectors: Record<string, Vector> = {};
  for (const [name, shape] of columns) {
    const type = arrowType(shape);
    vectors[name] = vectorFromArray(
      rows.map((row) => conform(row[name], shape)),
      type,
    ) as Vector;
  }
  return new Table(vectors);
}

/** Converts an Arrow value (Vector, struct row, bigint, typed array) to plain JSON-like data. */
export function plainValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === "bigint") return Number(value);
  if (value instanceof Vector) return Array.from(value, (item) => plainValue(item));
  if (ArrayBuffer.isView(value) && !(value instanceof DataView))
    return Array.from(value as unknown as ArrayLike<number>);
  if (typeof value === "object") {
    const source =
      typeof (value as { toJSON?: unknown }).toJSON === "function"
        ? (value as { toJSON(): object }).toJSON()
        : value;
    const result: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(source)) result[key] = plainValue(item);
    return result;
  }
  return value;
}

/** The rows of a table as plain objects (nulls kept as `null`). */
export function rowsFromTable(table: Table): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (const row of table) rows.push(plainValue(row) as Record<string, unknown>);
  return rows;
}
