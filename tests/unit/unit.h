/*
 * unit.h: the one way every unit test program runs its suite: TAP on
 * stdout (read by Automake's tap-driver.sh), no fork (so sanitizers see
 * the tests), exit status 0 only when every test passed.
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdlib.h>

#include <check.h>

static inline int
unit_run(Suite *s)
{
	SRunner	*sr = srunner_create(s);
	int	 failed;

	srunner_set_tap(sr, "-");
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
