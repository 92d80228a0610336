// A script written for code-executor-MCP's TypeScript sandbox, where
// callMCPTool, discoverMCPTools, getToolSchema and searchTools are
// injected as globals: it imports nothing of ours. The tests run it with
// mcp-proxyd-globals.mjs as a preload (Deno) or --import (Node, as .mjs).
declare const callMCPTool: (name: string, params?: unknown) => Promise<any>;
declare const discoverMCPTools: (o?: { search?: string[] }) => Promise<any[]>;
declare const getToolSchema: (name: string) => Promise<any>;
declare const searchTools: (q: string, limit?: number) => Promise<any[]>;

// PHASE 1: discover
const tools = await discoverMCPTools({ search: ["get-sum", "echo"] });
console.log("tools: " + tools.map((t) => t.name)
    .filter((n) => n.includes("everything")).sort().join(" "));
// PHASE 2: inspect
const schema = await getToolSchema("mcp__everything__echo");
if (!schema || !("message" in schema.parameters.properties))
	throw new Error("echo has no message parameter");
// PHASE 3: execute
console.log("echo: " + await callMCPTool("mcp__everything__echo",
    { message: "from the original" }));
console.log("sum: " + await callMCPTool("mcp__everything__get-sum",
    { a: 40, b: 2 }));
try {
	await callMCPTool("mcp__everything__get-env", {});
} catch (error) {
	console.log("error: " + (error as Error).message);
}
console.log("calls: " + (await searchTools("echo sum", 3)).length);
