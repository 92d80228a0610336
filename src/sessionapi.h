/*
 * sessionapi.h: the routes of sessions: POST /sessions, GET /sessions,
 * GET and DELETE /sessions/{id} (the daemon token only), and GET
 * /mcp/calls (any caller: its own calls; the daemon token: everyone's).
 * Loop thread only.
 */
#ifndef SESSIONAPI_H
#define SESSIONAPI_H

void	sessionapi_register(void);

#endif
