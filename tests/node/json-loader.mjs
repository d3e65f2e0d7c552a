// Node 20 refuses `import x from "./file.json"` without `with {type: "json"}`, which the
// @actions/* packages omit; this hook adds the attribute so their schemas load.
// Registered by the harnesses via `module.register` before they import the packages.
export async function load(url, context, nextLoad) {
  if (url.endsWith(".json")) {
    return nextLoad(url, { ...context, importAttributes: { type: "json" } });
  }
  return nextLoad(url, context);
}
