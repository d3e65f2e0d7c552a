// Evaluate `${{ }}` expressions with GitHub's own evaluator (@actions/expressions).
// stdin: JSON [{contexts: {name: value, ...}, expressions: [text, ...]}, ...] (batches)
// stdout: JSON [[{ok: true, value, kind, text, truthy} | {ok: false, error}, ...], ...] in order.
// `value` is plain JSON (NaN and ±Infinity as the strings "NaN", "Infinity", "-Infinity"),
// `text` is how the value renders when substituted into a string (primitives only).
// Status functions are not built in (the runner supplies them), so success(), failure(),
// cancelled() and always() are given here from `job.status`, as the local runner does.
import { register } from "node:module";
import { readFileSync } from "node:fs";

register("./json-loader.mjs", import.meta.url);
const { Lexer, Parser, Evaluator, data } = await import("@actions/expressions");
const { reviver } = await import("@actions/expressions/data/reviver");
const { truthy } = await import("@actions/expressions/result");

const KINDS = ["string", "array", "object", "boolean", "number", "object", "null"];

function plain(value) {
  switch (value.kind) {
    case data.Kind.Null:
      return null;
    case data.Kind.Number: {
      const n = value.number();
      return Number.isFinite(n) ? n : String(n);
    }
    case data.Kind.Array:
      return value.values().map(plain);
    case data.Kind.Dictionary:
    case data.Kind.CaseSensitiveDictionary:
      return Object.fromEntries(value.pairs().map((p) => [p.key, plain(p.value)]));
    default:
      return value.value;
  }
}

function statusFunctions(status) {
  const statusFunc = (name, answer) => ({
    name,
    minArgs: 0,
    maxArgs: 0,
    call: () => new data.BooleanData(answer),
  });
  return [
    statusFunc("success", status === "success"),
    statusFunc("failure", status === "failure"),
    statusFunc("cancelled", status === "cancelled"),
    statusFunc("always", true),
  ];
}

function evaluateBatch(batch) {
  const contexts = JSON.parse(JSON.stringify(batch.contexts), reviver);
  const statusFuncs = statusFunctions(String(batch.contexts?.job?.status ?? "success").toLowerCase());
  const functions = new Map(statusFuncs.map((f) => [f.name.toLowerCase(), f]));
  const contextNames = Object.keys(batch.contexts);
  return batch.expressions.map((text) => evaluate(text, contexts, contextNames, statusFuncs, functions));
}

function evaluate(text, contexts, contextNames, statusFuncs, functions) {
  try {
    const { tokens } = new Lexer(text).lex();
    const expr = new Parser(tokens, contextNames, statusFuncs).parse();
    const result = new Evaluator(expr, contexts, functions).evaluate();
    return {
      ok: true,
      value: plain(result),
      kind: KINDS[result.kind],
      text: result.primitive ? result.coerceString() : null,
      truthy: truthy(result),
    };
  } catch (err) {
    return { ok: false, error: String(err?.message ?? err) };
  }
}

const batches = JSON.parse(readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(batches.map(evaluateBatch)));
