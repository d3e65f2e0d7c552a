// Validate workflows and action metadata with GitHub's own parser (@actions/workflow-parser).
// stdin: JSON [{name, kind: "workflow" | "action", content}]
// stdout: JSON [{name, errors: [message, ...]}]  (an empty list means GitHub accepts the file)
import { register } from "node:module";
import { readFileSync } from "node:fs";

register("./json-loader.mjs", import.meta.url);
const { parseWorkflow, convertWorkflowTemplate, NoOperationTraceWriter } = await import(
  "@actions/workflow-parser"
);
const { parseAction } = await import("@actions/workflow-parser/actions/action-parser");

const trace = new NoOperationTraceWriter();

async function workflowErrors(file) {
  const parsed = parseWorkflow(file, trace);
  const errors = parsed.context.errors.getErrors().map((e) => e.message);
  if (errors.length || !parsed.value) {
    return errors.length ? errors : ["the parser returned no workflow"];
  }
  // Conversion checks what the schema cannot: job graph, needs:, matrix, reusable-workflow calls.
  const template = await convertWorkflowTemplate(parsed.context, parsed.value);
  return (template.errors || []).map((e) => e.Message || e.message || String(e));
}

function actionErrors(file) {
  const parsed = parseAction(file, trace);
  const errors = parsed.context.errors.getErrors().map((e) => e.message);
  return errors.length || parsed.value ? errors : ["the parser returned no action"];
}

const batch = JSON.parse(readFileSync(0, "utf8"));
const results = [];
for (const { name, kind, content } of batch) {
  const file = { name, content };
  const errors = kind === "action" ? actionErrors(file) : await workflowErrors(file);
  results.push({ name, errors });
}
process.stdout.write(JSON.stringify(results));
