// The TypeScript client's errors, retries and timeouts (Node or Deno):
// prints one JSON object for test_client_ts.py. MCP_PROXYD_URL is the
// daemon, TOKEN_DEMO a session on mcp__demo__*, TOKEN_RL one with a
// rate limit of 1 call a second.
import {
	Client, ProxyConnectionError, RateLimitedError, ServerFailedError,
	TimedOutError, ToolError, UnauthorizedError,
} from "../../../clients/ts/mcp-proxyd.mjs";

const env = (n) => globalThis.Deno ? Deno.env.get(n) : process.env[n];
const url = env("MCP_PROXYD_URL");
const out = {};
const demo = new Client({ url, token: env("TOKEN_DEMO"), retries: 0 });
async function expect(name, f) {
	try {
		await f();
		out[name] = "no error";
	} catch (e) {
		out[name] = { error: e.name, status: e.status ?? null };
		if (e instanceof ToolError)
			out[name].isError = e.result?.isError;
		if (e instanceof RateLimitedError)
			out[name].retryAfter = e.retryAfter;
	}
}
await expect("tool", () => demo.callMCPTool("mcp__demo__fail", {}));
await expect("timeout", () => demo.callMCPTool("mcp__demo__sleep",
    { ms: 2000 }));
await expect("crash", () => demo.callMCPTool("mcp__demo__crash", {}));
await expect("own_timeout", () => new Client({ url,
    token: env("TOKEN_DEMO"), timeoutMs: 100 }).callMCPTool(
    "mcp__demo__sleep", { ms: 250 }));
// A GET: a POST with a wrong token on a kept-alive connection gets
// evhttp's 413 page from the daemon (a daemon bug, reported).
await expect("unauthorized", () => new Client({ url, token: "0".repeat(64) })
    .getToolCalls());
await expect("unreachable", () => new Client({ url: "http://127.0.0.1:1/",
    token: "t" }).getToolCalls());
await expect("bad_url", async () => new Client({ url: "ftp://x/",
    token: "t" }));
await expect("bad_params", () => demo.callMCPTool("mcp__demo__echo", [1]));
const rl = new Client({ url, token: env("TOKEN_RL") });
await rl.callMCPTool("mcp__demo__echo", { message: "1" });
const t0 = Date.now();
out.retried = await rl.callMCPTool("mcp__demo__echo", { message: "2" });
out.waitedMs = Date.now() - t0;
const rl0 = new Client({ url, token: env("TOKEN_RL"), retries: 0 });
await expect("rate_limited", async () => {
	await rl0.callMCPTool("mcp__demo__echo", { message: "3" });
	await rl0.callMCPTool("mcp__demo__echo", { message: "4" });
});
const unix = env("UNIX_URL");
if (unix) {
	const u = new Client({ url: unix, token: env("TOKEN_DEMO") });
	out.unix = [];
	for (let i = 0; i < 3; i++)
		out.unix.push(await u.callMCPTool("mcp__demo__echo",
		    { message: String(i) }));
}
console.log(JSON.stringify(out));
