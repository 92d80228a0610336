// The TypeScript client over a Unix socket (test_listen.py), under Node or
// Deno: MCP_PROXYD_URL is unix:PATH. Prints what it got as JSON.
import { Client, callMCPTool } from "../../../clients/ts/mcp-proxyd.mjs";

const out = { echo: [] };
for (let i = 0; i < 3; i++)
	out.echo.push(await callMCPTool("mcp__demo__echo",
	    { message: String(i) }));
const c = new Client();
try {
	await c.callMCPTool("mcp__demo__nope", {});
} catch (e) {
	out.error = [e.name, e.status];
}
out.tools = (await c.request("GET", "/mcp/tools?q=echo")).tools
    .map((t) => t.name);
console.log(JSON.stringify(out));
