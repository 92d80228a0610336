// The sandbox scenario with the TypeScript client under Deno (the same
// calls as scenario.py and scenario.mjs): prints one JSON object. Run as
//   deno run --allow-net=127.0.0.1:PORT \
//     --allow-env=MCP_PROXYD_URL,MCP_PROXYD_TOKEN scenario.ts PORT2
// where PORT2 is a port Deno must refuse to reach.
import {
	callMCPTool, getToolCalls, getToolSchema, InvalidParamsError,
	NotAllowedError, searchTools, ToolNotFoundError,
} from "../../../clients/ts/mcp-proxyd.ts";

const out: { [key: string]: unknown } = {};
out.echo = await callMCPTool("mcp__everything__echo", { message: "hi" });
out.sum = await callMCPTool("mcp__everything__get-sum", { a: 2, b: 3 });
await callMCPTool("mcp__memory__create_entities", { entities: [
	{ name: "sandbox", entityType: "client", observations: ["speaks HTTP"] },
] });
const found = await callMCPTool("mcp__memory__search_nodes",
    { query: "sandbox" });
out.search = JSON.parse(found as string).entities[0].observations;
const whole = await callMCPTool("mcp__everything__get-structured-content",
    { location: "Chicago" }, { full: true }) as {
	structuredContent: { [key: string]: unknown };
};
out.structured = whole.structuredContent;
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
out.schema = { title: schema?.title,
    required: (schema?.parameters as { required: string[] }).required };
out.noschema = await getToolSchema("mcp__everything__nope");
out.search_tools = (await searchTools("get-sum", 5)).map((t) => t.name);
out.calls = (await getToolCalls()).calls;
// Deno itself refuses any other address.
const refused: string[] = [];
for (const url of [`http://127.0.0.1:${Deno.args[0]}/`,
    "http://127.0.0.2:80/"]) {
	try {
		await fetch(url);
		refused.push("reached " + url);
	} catch (e) {
		refused.push((e as Error).name);
	}
}
out.refused = refused;
console.log(JSON.stringify(out));
