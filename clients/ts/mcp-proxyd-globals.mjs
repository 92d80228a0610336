// mcp-proxyd-globals.mjs: puts callMCPTool, discoverMCPTools, getToolSchema,
// searchTools and getToolCalls on globalThis before a script written for
// code-executor-MCP's injected functions runs, unchanged:
//   deno run --preload mcp-proxyd-globals.mjs --allow-net=... script.ts
//   node --import ./mcp-proxyd-globals.mjs script.mjs
import { installGlobals } from "./mcp-proxyd.mjs";

installGlobals();
