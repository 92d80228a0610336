/**
 * mcp-proxyd.ts: the sandbox client of mcp-proxyd for Deno, Node >= 18 and
 * Bun (fetch only, no dependencies). mcp-proxyd.mjs is this file with the
 * types stripped (tsc, checked by the tests): import either.
 *
 * Code written for code-executor-MCP's injected functions runs unchanged:
 *
 *   import { callMCPTool, discoverMCPTools, getToolSchema, searchTools }
 *     from "./mcp-proxyd.ts";
 *
 * or with installGlobals() (mcp-proxyd-globals.mjs does it as a preload)
 * for scripts that use them as globals. The functions use one shared
 * Client made from MCP_PROXYD_URL and MCP_PROXYD_TOKEN (Deno needs
 * --allow-env=MCP_PROXYD_URL,MCP_PROXYD_TOKEN to read them, and
 * --allow-net=HOST:PORT for the daemon; for a Unix socket, Deno needs
 * --allow-net=unix:PATH,mcp-proxyd.invalid --allow-read=PATH
 * --allow-write=PATH; Node, whose fetch cannot use one, goes through
 * node:http there). Every
 * failure throws a subclass of
 * MCPProxydError; 429 and 503 answers are retried a few times after their
 * Retry-After (retries: 0 turns that off). See docs/clients.md.
 */

export type JSONSchema = { [key: string]: unknown } | boolean;

/** A discovery entry: name, description, parameters (the input schema)
 * and every other field of the server's Tool (outputSchema, title, ...). */
export interface ToolSchema {
	name: string;
	description: string;
	parameters: JSONSchema;
	outputSchema?: JSONSchema;
	title?: string;
	annotations?: { [key: string]: unknown };
	[key: string]: unknown;
}

/** The whole MCP CallToolResult ({full: true}). */
export interface CallToolResult {
	content: Array<{ type: string; [key: string]: unknown }>;
	structuredContent?: { [key: string]: unknown };
	isError?: boolean;
	_meta?: { [key: string]: unknown };
	[key: string]: unknown;
}

export interface ToolCallSummaryEntry {
	toolName: string;
	callCount: number;
	successCount: number;
	errorCount: number;
	totalDurationMs: number;
	averageDurationMs: number;
	lastCallDurationMs: number;
	lastCallStatus: "success" | "error";
	lastErrorMessage?: string;
	lastCalledAt: string;
}

export interface ToolCalls {
	calls: string[];
	truncated: number;
	summary: ToolCallSummaryEntry[];
}

export interface ClientOptions {
	/** http://HOST:PORT/ or unix:/PATH; default MCP_PROXYD_URL. */
	url?: string;
	/** Default MCP_PROXYD_TOKEN. */
	token?: string;
	/** Per request, default 330000 ms. */
	timeoutMs?: number;
	/** Retries of a 429 or a 503, default 3; 0: none. */
	retries?: number;
	/** A longer Retry-After is not waited for, default 30000 ms. */
	maxRetryWaitMs?: number;
}

export interface CallOptions {
	/** Answer the whole CallToolResult (the body's "result": "full"). */
	full?: boolean;
}

type Body = { [key: string]: unknown };

/** Any failure; status is the HTTP status (null when no answer came) and
 * body the daemon's JSON answer. */
export class MCPProxydError extends Error {
	status: number | null;
	body: Body;
	constructor(message: string, status: number | null = null,
	    body: Body = {}) {
		super(message);
		this.name = new.target.name;
		this.status = status;
		this.body = body;
	}
}

/** 400 (not a schema failure) or 413. */
export class BadRequestError extends MCPProxydError {}

/** 400: the arguments fail the tool's schema; details lists every failing
 * path. */
export class InvalidParamsError extends BadRequestError {
	details: Array<{ path: string; message: string }>;
	paths: string[];
	required: string[];
	optional: string[];
	constructor(message: string, status: number | null = null,
	    body: Body = {}) {
		super(message, status, body);
		this.details = Array.isArray(body.details) ?
		    body.details as Array<{ path: string; message: string }> : [];
		this.paths = this.details.map((d) => String(d.path));
		this.required = Array.isArray(body.required) ?
		    body.required as string[] : [];
		this.optional = Array.isArray(body.optional) ?
		    body.optional as string[] : [];
	}
}

/** 401: no token, a wrong one, or an expired or revoked session. */
export class UnauthorizedError extends MCPProxydError {}

/** 403: not in the allowlist (allowedTools, suggestion), or a route the
 * token may not use. */
export class NotAllowedError extends MCPProxydError {
	allowedTools: string[];
	suggestion: string | null;
	constructor(message: string, status: number | null = null,
	    body: Body = {}) {
		super(message, status, body);
		this.allowedTools = Array.isArray(body.allowedTools) ?
		    body.allowedTools as string[] : [];
		this.suggestion = typeof body.suggestion === "string" ?
		    body.suggestion : null;
	}
}

/** 404: no such tool; suggestions holds similar names. */
export class ToolNotFoundError extends MCPProxydError {
	suggestions: string[];
	constructor(message: string, status: number | null = null,
	    body: Body = {}) {
		super(message, status, body);
		this.suggestions = Array.isArray(body.suggestions) ?
		    body.suggestions as string[] : [];
	}
}

/** 422: the tool reported an error; result is its CallToolResult. */
export class ToolError extends MCPProxydError {
	result: unknown;
	constructor(message: string, status: number | null = null,
	    body: Body = {}) {
		super(message, status, body);
		this.result = body.result;
	}
}

/** 429: a rate limit or the session's maxConcurrent; retryAfter in
 * seconds, null when none was sent. */
export class RateLimitedError extends MCPProxydError {
	retryAfter: number | null = null;
}

/** 503: overloaded, a server starting or restarting, or shutting down. */
export class OverloadedError extends MCPProxydError {
	retryAfter: number | null = null;
}

/** 502: the MCP server failed or crashed. */
export class ServerFailedError extends MCPProxydError {}

/** 504 (the call passed its timeout), or no answer within timeoutMs
 * (status null). */
export class TimedOutError extends MCPProxydError {}

/** The daemon could not be reached. */
export class ProxyConnectionError extends MCPProxydError {}

function errorOf(status: number, body: Body,
    retryAfter: number | null): MCPProxydError {
	let msg = typeof body.error === "string" && body.error !== "" ?
	    body.error : `mcp-proxyd answered HTTP ${status}`;
	switch (status) {
	case 400:
		if (Array.isArray(body.details)) {
			const lines = (body.details as Array<Body>).map((d) =>
			    `${d.path || "/"}: ${d.message}`);
			if (lines.length > 1)
				msg += "\n  " + lines.join("\n  ");
			return new InvalidParamsError(msg, status, body);
		}
		return new BadRequestError(msg, status, body);
	case 401:
		return new UnauthorizedError(msg, status, body);
	case 403:
		return new NotAllowedError(msg, status, body);
	case 404:
		return new ToolNotFoundError(msg, status, body);
	case 413:
		return new BadRequestError(msg, status, body);
	case 422:
		return new ToolError(msg, status, body);
	case 429: {
		const e = new RateLimitedError(msg, status, body);
		e.retryAfter = retryAfter;
		return e;
	}
	case 502:
		return new ServerFailedError(msg, status, body);
	case 503: {
		const e = new OverloadedError(msg, status, body);
		e.retryAfter = retryAfter;
		return e;
	}
	case 504:
		return new TimedOutError(msg, status, body);
	default:
		return new MCPProxydError(msg, status, body);
	}
}

/* What the runtimes offer beyond fetch, looked up at run time. */
interface Runtime {
	Deno?: {
		env: { get(name: string): string | undefined };
		createHttpClient?: (o: unknown) => { close(): void };
	};
	Bun?: unknown;
	process?: {
		env: { [name: string]: string | undefined };
		versions?: { node?: string };
	};
}

/* What #once reads of an answer: a fetch Response, or nodeUnixFetch's. */
interface Answer {
	status: number;
	headers: { get(name: string): string | null };
	text(): Promise<string>;
}

/* The little of node:http that nodeUnixFetch uses. */
interface NodeIncoming {
	statusCode?: number;
	headers: { [name: string]: string | string[] | undefined };
	on(event: string, f: (chunk: Uint8Array) => void): void;
}
interface NodeHttp {
	request(options: unknown, f: (res: NodeIncoming) => void): {
		on(event: "error", f: (e: Error) => void): void;
		end(body?: string): void;
	};
}

const runtime = globalThis as unknown as Runtime;

function envGet(name: string): string | undefined {
	if (runtime.Deno !== undefined) {
		try {
			return runtime.Deno.env.get(name);
		} catch (e) {
			throw new MCPProxydError(`cannot read ${name}: run Deno ` +
			    "with --allow-env=MCP_PROXYD_URL,MCP_PROXYD_TOKEN, " +
			    `or pass {url, token} (${e})`);
		}
	}
	return runtime.process?.env[name];
}

/* Deno's Unix socket transport is a proxy: it sends the whole URL in the
 * request line (a host that no resolver knows; --allow-net must name it),
 * which evhttp takes for a proxy request and closes the connection after
 * its answer (unless the daemon names the host as a server alias). */
const UNIX_BASE = "http://mcp-proxyd.invalid";

/* Node's fetch cannot reach a Unix socket; node:http can (socketPath).
 * Its module name is not a literal, so that tsc and Deno do not look
 * for Node's types. */
async function nodeUnixFetch(socketPath: string, path: string,
    init: { method: string; headers: { [key: string]: string };
    body?: string; signal: AbortSignal }): Promise<Answer> {
	const mod = "node:http";
	const http = await import(mod) as NodeHttp;
	return new Promise((resolve, reject) => {
		const req = http.request({ socketPath, path, method: init.method,
		    headers: init.headers, signal: init.signal }, (res) => {
			const chunks: Uint8Array[] = [];
			res.on("data", (c) => chunks.push(c));
			res.on("error", reject);
			res.on("end", () => {
				const all = new Uint8Array(chunks.reduce(
				    (n, c) => n + c.length, 0));
				let off = 0;
				for (const c of chunks) {
					all.set(c, off);
					off += c.length;
				}
				const text = new TextDecoder().decode(all);
				resolve({
					status: res.statusCode ?? 0,
					headers: { get(name: string) {
						const v = res.headers[
						    name.toLowerCase()];
						return v === undefined ? null :
						    String(v);
					} },
					text: () => Promise.resolve(text),
				});
			});
		});
		req.on("error", reject);
		req.end(init.body);
	});
}

function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

export class Client {
	readonly url: string;
	readonly timeoutMs: number;
	readonly retries: number;
	readonly maxRetryWaitMs: number;
	#token: string;
	#base: string;
	#extra: { [key: string]: unknown } = {};
	#denoUnix: string | null = null;
	#nodeUnix: string | null = null;

	constructor(options: ClientOptions = {}) {
		const url = options.url ?? envGet("MCP_PROXYD_URL");
		const token = options.token ?? envGet("MCP_PROXYD_TOKEN");
		if (!url)
			throw new MCPProxydError("no mcp-proxyd URL: pass {url} " +
			    "or set MCP_PROXYD_URL");
		if (!token)
			throw new MCPProxydError("no mcp-proxyd token: pass " +
			    "{token} or set MCP_PROXYD_TOKEN");
		if (/\s/.test(token))
			throw new MCPProxydError("the mcp-proxyd token must be " +
			    "one word");
		this.url = url;
		this.#token = token;
		this.timeoutMs = options.timeoutMs ?? 330000;
		this.retries = options.retries ?? 3;
		this.maxRetryWaitMs = options.maxRetryWaitMs ?? 30000;
		if (!(this.timeoutMs > 0) || !(this.retries >= 0) ||
		    !(this.maxRetryWaitMs >= 0))
			throw new MCPProxydError("timeoutMs must be > 0, retries " +
			    "and maxRetryWaitMs >= 0");
		this.#base = this.#parseUrl(url);
	}

	/* The base of the request URLs; a Unix socket's fetch options. */
	#parseUrl(url: string): string {
		let path: string | null = null;
		if (url.startsWith("unix:"))
			path = url.slice(5).replace(/^\/\//, "");
		else if (url.startsWith("/"))
			path = url;
		if (path === null) {
			if (!/^http:\/\/[^/]+/.test(url))
				throw new MCPProxydError(`MCP_PROXYD_URL ${url}: ` +
				    "expected http://HOST:PORT/ or unix:/PATH");
			return url.replace(/\/+$/, "");
		}
		if (!path.startsWith("/"))
			throw new MCPProxydError(`MCP_PROXYD_URL ${url}: expected ` +
			    "unix:/absolute/path");
		if (runtime.Deno?.createHttpClient !== undefined)
			this.#denoUnix = path;
		else if (runtime.Bun !== undefined)
			this.#extra = { unix: path };
		else if (runtime.process?.versions?.node !== undefined)
			this.#nodeUnix = path;
		else
			throw new MCPProxydError("a Unix socket URL needs Deno, " +
			    "Bun or Node");
		return UNIX_BASE;
	}

	/** One request with the retries of 429 and 503: the JSON answer of a
	 * 2xx, else the error thrown. */
	async request(method: string, path: string,
	    payload?: unknown): Promise<Body> {
		const body = payload === undefined ? undefined :
		    JSON.stringify(payload);
		for (let tries = 0; ; tries++) {
			const [status, data, after] = await this.#once(method,
			    path, body);
			if (status >= 200 && status < 300)
				return data;
			const err = errorOf(status, data, after);
			const wait = (after ?? 1) * 1000;
			if ((status !== 429 && status !== 503) ||
			    tries >= this.retries || wait > this.maxRetryWaitMs)
				throw err;
			await sleep(wait);
		}
	}

	async #once(method: string, path: string, body?: string):
	    Promise<[number, Body, number | null]> {
		const headers: { [key: string]: string } = {
			"Authorization": `Bearer ${this.#token}`,
			"Accept": "application/json",
		};
		if (body !== undefined)
			headers["Content-Type"] = "application/json";
		let resp: Answer;
		let text: string;
		/* A connection per request: a daemon older than its Unix
		 * socket listeners closes it after the answer (see UNIX_BASE)
		 * without telling Deno, which would reuse it. */
		const hc = this.#denoUnix === null ? null :
		    runtime.Deno!.createHttpClient!({
			proxy: { transport: "unix", path: this.#denoUnix } });
		const signal = AbortSignal.timeout(this.timeoutMs);
		try {
			resp = this.#nodeUnix !== null ?
			    await nodeUnixFetch(this.#nodeUnix, path,
			    { method, headers, body, signal }) :
			    await fetch(this.#base + path, {
				method, headers, body, signal,
				...this.#extra,
				...(hc === null ? {} : { client: hc }),
			    } as RequestInit);
			text = await resp.text();
		} catch (e) {
			const name = (e as { name?: string }).name;
			if (name === "TimeoutError" || name === "AbortError")
				throw new TimedOutError("no answer from " +
				    `mcp-proxyd within ${this.timeoutMs} ms`);
			throw new ProxyConnectionError("cannot reach mcp-proxyd " +
			    `at ${this.url}: ${e}`);
		} finally {
			hc?.close();
		}
		let data: Body;
		try {
			const v: unknown = text === "" ? {} : JSON.parse(text);
			data = v !== null && typeof v === "object" &&
			    !Array.isArray(v) ? v as Body :
			    { error: `unexpected answer: ${text.slice(0, 200)}` };
		} catch {
			data = { error: text.slice(0, 200) };
		}
		const ra = resp.headers.get("Retry-After");
		const after = ra !== null && /^\s*\d+\s*$/.test(ra) ?
		    parseInt(ra, 10) : null;
		return [resp.status, data, after];
	}

	/** Calls a tool: its result (the first text block, else the whole
	 * CallToolResult; always the whole CallToolResult with {full: true}). */
	async callMCPTool(toolName: string, params?: unknown,
	    options: CallOptions = {}): Promise<unknown> {
		if (typeof toolName !== "string" || toolName === "")
			throw new TypeError("toolName must be a non-empty string " +
			    "like 'mcp__server__tool'");
		if (params !== undefined && params !== null &&
		    (typeof params !== "object" || Array.isArray(params)))
			throw new TypeError("params must be an object of the " +
			    "tool's arguments");
		const payload: Body = { toolName, params: params ?? {} };
		if (options.full)
			payload.result = "full";
		return (await this.request("POST", "/", payload)).result;
	}

	/** The tools whose name or description contains any of the words
	 * (case-insensitive); every tool without search. */
	async discoverMCPTools(options: { search?: string[] } = {}):
	    Promise<ToolSchema[]> {
		const q = (options.search ?? []).filter((w) => w !== "")
		    .map((w) => `q=${encodeURIComponent(w)}`).join("&");
		const data = await this.request("GET",
		    "/mcp/tools" + (q !== "" ? `?${q}` : ""));
		return Array.isArray(data.tools) ? data.tools as ToolSchema[] :
		    [];
	}

	/** One tool's discovery entry, or null. */
	async getToolSchema(toolName: string): Promise<ToolSchema | null> {
		const word = toolName.split("__").pop() ?? "";
		const search = /^[A-Za-z0-9 _-]{1,100}$/.test(word) ? [word] :
		    [];
		const tools = await this.discoverMCPTools({ search });
		return tools.find((t) => t.name === toolName) ?? null;
	}

	/** Tools matching any word of query, at most limit of them. */
	async searchTools(query: string, limit = 10): Promise<ToolSchema[]> {
		const search = query.split(/\s+/).filter((w) => w !== "");
		return (await this.discoverMCPTools({ search }))
		    .slice(0, Math.max(0, limit));
	}

	/** This token's calls (GET /mcp/calls). */
	async getToolCalls(): Promise<ToolCalls> {
		return await this.request("GET", "/mcp/calls") as unknown as
		    ToolCalls;
	}
}

let shared: Client | null = null;

/** The shared Client of the functions below (from the environment). */
export function defaultClient(): Client {
	if (shared === null)
		shared = new Client();
	return shared;
}

export function callMCPTool(toolName: string, params?: unknown,
    options?: CallOptions): Promise<unknown> {
	return defaultClient().callMCPTool(toolName, params, options);
}

export function discoverMCPTools(options?: { search?: string[] }):
    Promise<ToolSchema[]> {
	return defaultClient().discoverMCPTools(options);
}

export function getToolSchema(toolName: string): Promise<ToolSchema | null> {
	return defaultClient().getToolSchema(toolName);
}

export function searchTools(query: string, limit = 10):
    Promise<ToolSchema[]> {
	return defaultClient().searchTools(query, limit);
}

export function getToolCalls(): Promise<ToolCalls> {
	return defaultClient().getToolCalls();
}

/** Puts callMCPTool, discoverMCPTools, getToolSchema, searchTools and
 * getToolCalls on globalThis, as code-executor-MCP's sandbox injects
 * them (the shared client, made when first called). */
export function installGlobals(): void {
	Object.assign(globalThis, {
		callMCPTool, discoverMCPTools, getToolSchema, searchTools,
		getToolCalls,
	});
}
