/* version.h: the version string (PACKAGE_VERSION comes from autoconf.h,
 * which the build force-includes in every file). */
#ifndef VERSION_H
#define VERSION_H
#define MCP_PROXYD_VERSION PACKAGE_VERSION
#endif
