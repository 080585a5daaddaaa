/* datapath.h - the loop of a datapath lcore: receive a burst on its RX queue, run the pipeline,
 * transmit on its egress queue; in wakeup mode, sleep in poll() while the queue is idle. */
#ifndef PCF_DATAPATH_H
#define PCF_DATAPATH_H

#include <stdbool.h>

/* Set by the main lcore once the worker's xskmap entries are gone (main.c). */
extern volatile bool pcf_datapath_stop;

/* rte_eal_remote_launch() entry point; arg is the lcore's struct pcf_lcore. */
int pcf_datapath_loop(void *arg);

#endif /* PCF_DATAPATH_H */
