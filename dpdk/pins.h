/* pins.h - the worker's view of the loader's pin dir: it opens pcf_xskmap (the only map whose
 * contents it writes, its own sockets' entries) and checks, through pcf_config, that the
 * program behind that pin dir is attached to the worker's RX interface. */
#ifndef PCF_PINS_H
#define PCF_PINS_H

#include <stddef.h>
#include <stdint.h>

/* Returns the XSKMAP fd, or -1 with a one-line reason in err (no pin dir, not bpffs, no pinned
 * pcf_xskmap, not an XSKMAP, fewer entries than n_queues, program on another interface). */
int pcf_pins_open_xskmap(const char *pin_dir, unsigned int ifindex, const char *ifname,
			 uint32_t n_queues, char *err, size_t errlen);

#endif /* PCF_PINS_H */
