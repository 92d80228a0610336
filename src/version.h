/* version.h: the version string, from configure. */
#ifndef VERSION_H
#define VERSION_H
#include "config.h"
#define MCP_PROXYD_VERSION PACKAGE_VERSION
#endif
