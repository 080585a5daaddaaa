/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* bench_common.h - what the BPF_PROG_TEST_RUN timers (xdp_cost.c, event_cost.c) share: where
 * their objects are, and pinning the process to one CPU. */
#ifndef PCF_BENCH_COMMON_H
#define PCF_BENCH_COMMON_H

#include <errno.h>
#include <libgen.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The directory of this executable (build/), where make puts the BPF objects, unless given. */
static inline void bench_obj_dir(char *dir, size_t len)
{
	char exe[4096];
	ssize_t n;

	if (dir[0])
		return;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	snprintf(dir, len, "%s", dirname(exe));
}

/* Pins the process to `cpu` (-1: leave it); says why it could not. */
static inline int bench_pin_cpu(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		fprintf(stderr, "failed to pin to CPU %d: %s\n", cpu, strerror(errno));
		return -1;
	}
	return 0;
}

#endif /* PCF_BENCH_COMMON_H */
