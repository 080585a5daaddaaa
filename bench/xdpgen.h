/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* xdpgen.h - what bench/xdpgen.c and its program xdpgen.bpf.c share. */
#ifndef XDPGEN_H
#define XDPGEN_H

#include <linux/types.h>

#define XDPGEN_HEAD    60     /* bytes written again each frame: the Ethernet minimum without FCS */
#define XDPGEN_LATE_NS 100000 /* a frame this late starts the schedule again, instead of a burst */

/* The program's .bss, written by xdpgen.c between runs through a memory map. */
struct xdpgen_state {
	__u64 gap_ns;  /* 0: no pacing */
	__u64 next_ns; /* when the next frame is due (bpf_ktime_get_ns, CLOCK_MONOTONIC) */
	__u64 late;    /* frames sent more than XDPGEN_LATE_NS after they were due */
	__u8 head[XDPGEN_HEAD]; /* the frame's first bytes */
};

#endif
