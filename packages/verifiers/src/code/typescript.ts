import { CodeSandboxError } from "./errors.js";

type TypeScriptModule = typeof import("typescript");

let typescriptPromise: Promise<TypeScriptModule> | undefined;

/**
 * Strips TypeScript types with the TypeScript compiler's own `transpileModule` (the
 * reference implementation of the syntax; pure JavaScript, no native binary). Node 20
 * cannot strip types itself. Loaded lazily: only TypeScript programs pay its load time.
 * Output is a CommonJS script (imports become `require`), ES2022, no type checking.
 * Throws a plain Error with the diagnostics when the source does not parse.
 */
export async function transpileTypeScript({
  source,
  fileName,
}: {
  source: string;
  fileName: string;
}): Promise<string> {
  typescriptPromise ??= import("typescript").then(
    (module) => ((module as { default?: TypeScriptModule }).default ?? module) as TypeScriptModule,
  );
  let ts: TypeScriptModule;
  try {
    ts = await typescriptPromise;
  } catch (error) {
    typescriptPromise = undefined;
    throw new CodeSandboxError({
      code: "sandbox_typescript_unavailable",
      message: "the typescript package could not be loaded",
      cause: error,
    });
  }
  const output = ts.transpileModule(source, {
    fileName,
    reportDiagnostics: true,
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.CommonJS,
      esModuleInterop: true,
      isolatedModules: true,
    },
  });
  const errors = (output.diagnostics ?? []).filter(
    (diagnostic) => diagnostic.category === ts.DiagnosticCategory.Error,
  );
  if (errors.length > 0) {
    throw new Error(
      errors.map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")).join("\n"),
    );
  }
  return output.outputText;
}
