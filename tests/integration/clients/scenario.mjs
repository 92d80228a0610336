// The sandbox scenario with the TypeScript client's .mjs under Node (the
// same calls as scenario.py and scenario.ts): prints one JSON object.
import {
	callMCPTool, getToolCalls, getToolSchema, InvalidParamsError,
	NotAllowedError, searchTools, ToolNotFoundError,
} from "../../../clients/ts/mcp-proxyd.mjs";

const out = {};
out.echo = await callMCPTool("mcp__everything__echo", { message: "hi" });
out.sum = await callMCPTool("mcp__everything__get-sum", { a: 2, b: 3 });
await callMCPTool("mcp__memory__create_entities", { entities: [
	{ name: "sandbox", entityType: "client", observations: ["speaks HTTP"] },
] });
const found = await callMCPTool("mcp__memory__search_nodes",
    { query: "sandbox" });
out.search = JSON.parse(found).entities[0].observations;
out.structured = (await callMCPTool("mcp__everything__get-structured-content",
    { location: "Chicago" }, { full: true })).structuredContent;
try {
	await callMCPTool("mcp__everything__get-env", {});
	out.denied = "no error";
} catch (e) {
	if (e instanceof NotAllowedError)
		out.denied = { error: e.name, status: e.status,
		    allowed: e.allowedTools };
}
try {
	await callMCPTool("mcp__everything__get-sum", { a: "2", b: null });
} catch (e) {
	if (e instanceof InvalidParamsError)
		out.invalid = { error: e.name, paths: [...e.paths].sort() };
}
try {
	await callMCPTool("mcp__everything__ech", { message: "x" });
} catch (e) {
	if (e instanceof ToolNotFoundError)
		out.notfound = { error: e.name,
		    suggested: e.suggestions.includes("mcp__everything__echo") };
}
const schema = await getToolSchema("mcp__everything__get-sum");
out.schema = { title: schema?.title, required: schema?.parameters.required };
out.noschema = await getToolSchema("mcp__everything__nope");
out.search_tools = (await searchTools("get-sum", 5)).map((t) => t.name);
out.calls = (await getToolCalls()).calls;
console.log(JSON.stringify(out));
