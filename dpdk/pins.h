/* pins.h - the worker's view of the loader's pin dir: it opens pcf_xskmap (the only map whose
 * contents it writes, its own sockets' entries), checks, through pcf_config, that the
 * program behind that pin dir is attached to the worker's RX interface at the attachment it
 * was told (--attachment: the interface's place in the pin dir, pcf_common.h), maps pcf_nat6
 * (the IPv6 NAT addresses) read-only into its memory, and reads the size of pcf_rule_stats
 * (the stats_slots its per-rule counters are indexed by). */
#ifndef PCF_PINS_H
#define PCF_PINS_H

#include <stddef.h>
#include <stdint.h>
#include "nat.h"

/* Returns the XSKMAP fd, or -1 with a one-line reason in err (no pin dir, not bpffs, no pinned
 * pcf_xskmap, not an XSKMAP); then pcf_pins_check_attachment for (attachment, ifindex). */
int pcf_pins_open_xskmap(const char *pin_dir, unsigned int attachment, unsigned int ifindex,
			 const char *ifname, uint32_t n_queues, char *err, size_t errlen);

/* Checks that queues 0..n_queues-1 of the attachment have their keys PCF_XSK_KEY(attachment, q)
 * in the map and that pcf_config[attachment].ifindex is ifindex (pcf-xdp attach --iface IF
 * --attachment N). 0, or -1 with a one-line reason in err. */
int pcf_pins_check_attachment(const char *pin_dir, int xskmap_fd, unsigned int attachment,
			      unsigned int ifindex, const char *ifname, uint32_t n_queues, char *err,
			      size_t errlen);

/* mmaps the pinned pcf_nat6 read-only (an ARRAY with BPF_F_MMAPABLE of struct pcf_nat6):
 * the datapath reads the control plane's writes through the mapping, no syscall per packet.
 * 0 with t filled; -1 with a one-line reason in err (not pinned, not such a map, or mmap
 * failed). */
int pcf_pins_map_nat6(const char *pin_dir, struct pcf_nat6_table *t, char *err, size_t errlen);
void pcf_pins_unmap_nat6(struct pcf_nat6_table *t);

/* The max_entries of the pinned pcf_rule_stats: how many stats_slots the control plane can
 * hand out, the size of the worker's per-rule tables. 0 with *n set; -1 with a one-line reason
 * in err (not pinned, not a PERCPU_ARRAY of struct pcf_counter, or unreadable). */
int pcf_pins_rule_slots(const char *pin_dir, uint32_t *n, char *err, size_t errlen);

#endif /* PCF_PINS_H */
