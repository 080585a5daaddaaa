/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* loader.h - what the files of the loader (pcf-xdp) share; pcf_common.h is what BPF shares. */

/* Options, exit codes, the pinned maps' table, an attachment's XDP and TC state, each file's
 * entry points. The files, one role each:
 *   main.c    options, usage and dispatch
 *   pins.c    the pin dir on bpffs, pin names, pinned objects' info
 *   load.c    opening the object (pcf_attachment), reusing or creating the pinned maps, loading
 *   config.c  pcf_config[attachment], the interface's RX queues and name
 *   xdp.c     the XDP link: state, attach, replace, detach, purge
 *   tc.c      pcf_tc_mark at TC ingress: a tcx link, or a clsact filter before Linux 6.6
 *   status.c  status, as text or --json
 *   counts.c  the pinned map-count iterator (PCF_PIN_MAP_COUNTS): pinned at attach, read by status
 */
#ifndef PCF_LOADER_H
#define PCF_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <net/if.h>
#include <linux/bpf.h>
#include <bpf/libbpf.h>

#include "pcf_common.h"

/* tcx (Linux 6.6) is newer than the uapi headers of Debian 12: the values from the kernel's
 * include/uapi/linux/bpf.h. In bpf_link_info, tcx.ifindex sits where xdp.ifindex does. */
#define PCF_ATTACH_TCX_INGRESS 46 /* BPF_TCX_INGRESS */
#define PCF_LINK_TYPE_TCX      11 /* BPF_LINK_TYPE_TCX */

/* clsact fallback: our filter is recognised by this handle/priority and the program name. */
#define PCF_TC_HANDLE   0x50c1
#define PCF_TC_PRIORITY 0x50c1

#define PIN_XDP_LINK "xdp_link" /* + "_N": attachment N's (bpffs refuses dots in names) */
#define PIN_TC_LINK  "tc_link"  /* + "_N" */
#define PROG_XDP     "pcf_xdp"
#define PROG_TC      "pcf_tc_mark"

enum exit_code {
	EXIT_OK = 0,
	EXIT_ERR = 1,
	EXIT_USAGE = 2,
	EXIT_NO_BPFFS = 3,
	EXIT_NO_IFACE = 4,
	EXIT_FOREIGN = 5,
	EXIT_VERIFIER = 6,
};

enum xdp_mode { MODE_AUTO, MODE_NATIVE, MODE_GENERIC };

/* The pinned maps, in the order status lists them (PCF_PINNED_MAPS, pcf_common.h). */
enum map_idx {
#define PCF_X_IDX(id, name) M_##id,
	PCF_PINNED_MAPS(PCF_X_IDX)
#undef PCF_X_IDX
	N_MAPS
};

extern const char *const map_names[N_MAPS];

struct opts {
	const char *cmd;
	const char *iface;
	const char *pin_dir;
	const char *obj_path;
	enum xdp_mode mode;
	__u32 max_rules;     /* 0: default / keep the pinned size */
	__u32 attachment;    /* --attachment N (--port N): IF's place in the pin dir */
	bool attachment_set; /* --attachment given (status otherwise finds IF's attachment) */
	int default_action;  /* -1: unset */
	int frag_action;     /* enum pcf_frag_action; -1: unset */
	__u32 flow_cache;    /* tuples in each flow cache; 0: default / keep the pinned size */
	bool json;
	bool purge;
	bool verbose;
};

extern struct opts opt; /* main.c: the command line */

/* main.c */
void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* pins.c */
struct pin_name {
	char s[32];
};

void pin_path(char *buf, size_t len, const char *name);
struct pin_name attachment_pin(const char *kind, __u32 attachment); /* "xdp_link_N", ... */
int open_pin(const char *name);                          /* fd, or -ENOENT when none */
int unpin(const char *name);
int get_link_info(int fd, struct bpf_link_info *info);
int get_prog_info_by_id(__u32 id, struct bpf_prog_info *info);
int check_bpffs(bool may_mount);
int make_pin_dir(bool *created);

/* load.c */
struct pcf_xdp; /* the skeleton of the built-in object (pcf_xdp.skel.h) */

struct loaded {
	struct pcf_xdp *skel;     /* the built-in object; NULL with --obj */
	struct bpf_object *obj;
	struct bpf_program *xdp, *tc;
	bool pinned_now[N_MAPS];  /* maps this run created and pinned (to unpin on failure) */
	char *log_xdp, *log_tc;
};

int load(struct loaded *l, bool need_pinned);
void unload(struct loaded *l);
void unpin_new_maps(struct loaded *l);
int prog_tag(int prog_fd, __u8 tag[BPF_TAG_SIZE]);

/* config.c */
int config_update(struct loaded *l, __u32 attachment, int ifindex, const char *iface);
bool config_read(__u32 attachment, struct pcf_config *cfg);
int config_clear(__u32 attachment);
const char *action_name(__u32 a);
const char *frag_name(__u32 f);
const char *ifname_of(__u32 ifindex, char buf[IF_NAMESIZE]); /* "?" when gone */

/* xdp.c */
struct xdp_state {
	__u32 drv_id, skb_id, hw_id;  /* programs attached to the interface, by mode */
	int link_fd;                  /* our pinned XDP link, or -1 */
	struct bpf_link_info link;    /* its info when link_fd >= 0 */
	bool ours;                    /* our link is attached to this interface */
	__u32 foreign_id;             /* an XDP program on the interface that is not ours */
};

int read_xdp_state(__u32 attachment, int ifindex, struct xdp_state *s);
void free_xdp_state(struct xdp_state *s);
const char *mode_name(const struct xdp_state *s);
int attachment_of_iface(int ifindex, int skip);
int cmd_attach(int ifindex);
int cmd_replace(int ifindex);
int cmd_detach(int ifindex);

/* tc.c */
struct tc_state {
	const char *kind;   /* "tcx", "clsact" or NULL */
	__u32 prog_id;
	__u32 link_id;
};

int read_tc_state(__u32 attachment, int ifindex, struct tc_state *t);
int tc_attach(__u32 attachment, int ifindex, int prog_fd, int *made);
int tc_detach(__u32 attachment, int ifindex);
int tc_update(__u32 attachment, int ifindex, int prog_fd);

/* status.c */
int cmd_status(int ifindex);

/* counts.c */
void counts_pin(void);                        /* at attach; a kernel without it gets a note */
int counts_read(const __u32 *ids, __s64 *out, size_t n); /* out[i]: -1 when not listed; -errno */

#endif /* PCF_LOADER_H */
