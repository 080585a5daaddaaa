// SPDX-License-Identifier: GPL-2.0
/* pcf-trace - watch the running worker's bursts without restarting it: attaches bursts.bpf.c
 * to its USDT probes (pcf_worker:rx_burst, tx_burst) and prints, every interval, each port
 * queue's bursts per second and the histogram of packets per burst. While it runs it pins its
 * maps in the pin dir (pcf_common.h: the worker's burst trace), where the control plane reads
 * them for /metrics. When the worker exits it waits for the next one in the same network
 * namespace and attaches again, so a restart only pauses the figures (trace/README.md).
 *
 *   pcf-trace [--pid PID] [--pin-dir DIR] [--interval-ms MS] [--count N] [--json] [--no-pin]
 *
 * Exit codes: 0 stopped (SIGINT, SIGTERM, --count), 2 usage, 3 no worker to trace, 4 attach
 * or load failed (no CAP_BPF and CAP_PERFMON, a worker without the probes). */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "pcf_common.h"
#include "bursts.skel.h"

#define MAX_WORKERS 16

struct opts {
	int pid;
	const char *pin_dir;
	unsigned int interval_ms;
	unsigned long count;
	bool json, no_pin;
};

/* The process traced: a pid is only the same process while its start time is. */
struct worker {
	int pid;
	unsigned long long start;
	ino_t netns;
	struct bpf_link *rx, *tx;
};

struct sample {
	struct pcf_burst_key key;
	struct pcf_burst_stats s;
};

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static void die(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pcf-trace: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(code);
}

static unsigned long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pcf-trace [--pid PID] [--pin-dir DIR] [--interval-ms MS] [--count N] [--json] [--no-pin]\n"
		"  --pid PID          the pcf-worker to trace (default: the only one running)\n"
		"  --pin-dir DIR      where the control plane reads the trace (default $PCF_PIN_DIR or %s)\n"
		"  --interval-ms MS   how often to print, 100..60000 (default 1000)\n"
		"  --count N          stop after N intervals (default: at SIGINT or SIGTERM)\n"
		"  --json             one JSON object per line (interval figures and events)\n"
		"  --no-pin           do not publish the trace to the control plane\n",
		PCF_DEFAULT_PIN_DIR);
}

static unsigned long parse_num(const char *opt, const char *v, unsigned long lo, unsigned long hi)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi || v[0] == '-')
		die(2, "%s must be an integer in %lu..%lu, not '%s'", opt, lo, hi, v);
	return n;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option long_opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "pin-dir", required_argument, NULL, 'd' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "no-pin", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *env = getenv("PCF_PIN_DIR");
	int c;

	*o = (struct opts){ .pin_dir = env && *env ? env : PCF_DEFAULT_PIN_DIR, .interval_ms = 1000 };
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		switch (c) {
		case 'p': o->pid = (int)parse_num("--pid", optarg, 1, INT_MAX); break;
		case 'd': o->pin_dir = optarg; break;
		case 'i': o->interval_ms = (unsigned int)parse_num("--interval-ms", optarg, 100, 60000); break;
		case 'c': o->count = parse_num("--count", optarg, 1, 100000000); break;
		case 'j': o->json = true; break;
		case 'n': o->no_pin = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc)
		die(2, "unexpected argument '%s' (see --help)", argv[optind]);
}

/* ---- Finding the worker ------------------------------------------------------------- */

static bool read_comm(int pid, char *comm, size_t len)
{
	char path[64];
	FILE *f;
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if (!(f = fopen(path, "r")))
		return false;
	bool ok = fgets(comm, (int)len, f) != NULL;
	fclose(f);
	comm[strcspn(comm, "\n")] = 0;
	return ok;
}

/* Field 22 of /proc/PID/stat (after the parenthesised comm, which may hold spaces). */
static unsigned long long start_time(int pid)
{
	char path[64], buf[1024];
	unsigned long long start = 0;
	FILE *f;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (!(f = fopen(path, "r")))
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &start) != 1)
		return 0;
	return start;
}

static ino_t netns_of(int pid)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	return stat(path, &st) ? 0 : st.st_ino;
}

/* The pcf-worker processes (in network namespace netns when it is not 0), at most max. */
static int find_workers(ino_t netns, int *pids, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	char comm[32];
	int n = 0;
	if (!d)
		die(3, "cannot read /proc: %s", strerror(errno));
	while ((e = readdir(d))) {
		int pid = atoi(e->d_name);
		if (pid <= 0 || !read_comm(pid, comm, sizeof(comm)) || strcmp(comm, "pcf-worker"))
			continue;
		if (netns && netns_of(pid) != netns)
			continue;
		if (n < max)
			pids[n] = pid;
		n++;
	}
	closedir(d);
	return n;
}

static bool alive(const struct worker *w)
{
	return w->pid && start_time(w->pid) == w->start;
}

/* ---- Attaching ---------------------------------------------------------------------- */

static int attach(struct bursts *skel, struct worker *w, int pid)
{
	char exe[64];
	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	w->pid = pid;
	w->start = start_time(pid);
	w->netns = netns_of(pid);
	w->rx = bpf_program__attach_usdt(skel->progs.rx_burst, pid, exe, "pcf_worker", "rx_burst", NULL);
	if (!w->rx)
		return -errno;
	w->tx = bpf_program__attach_usdt(skel->progs.tx_burst, pid, exe, "pcf_worker", "tx_burst", NULL);
	if (!w->tx) {
		int err = -errno;
		bpf_link__destroy(w->rx);
		w->rx = NULL;
		return err;
	}
	return 0;
}

static void detach(struct worker *w)
{
	bpf_link__destroy(w->rx);
	bpf_link__destroy(w->tx);
	w->rx = w->tx = NULL;
}

/* ---- Publishing to the control plane ------------------------------------------------ */

struct pins {
	char bursts[PATH_MAX], meta[PATH_MAX];
	bool pinned;
};

/* Pins the maps unless a live trace owns the pins already (then this one only prints). A pin
 * whose heartbeat is stale was left by a killed tool: it is replaced. */
static void publish(struct bursts *skel, const struct opts *o, struct pins *p)
{
	struct stat st;
	struct pcf_trace_meta m;
	__u32 zero = 0;
	int fd;

	if (o->no_pin)
		return;
	if (stat(o->pin_dir, &st) || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "pcf-trace: %s is not a directory (no pcf-xdp attached there): the trace is not in /metrics\n", o->pin_dir);
		return;
	}
	snprintf(p->bursts, sizeof(p->bursts), "%s/%s", o->pin_dir, PCF_PIN_TRACE_BURSTS);
	snprintf(p->meta, sizeof(p->meta), "%s/%s", o->pin_dir, PCF_PIN_TRACE_META);
	fd = bpf_obj_get(p->meta);
	if (fd >= 0) {
		bool live = !bpf_map_lookup_elem(fd, &zero, &m) && m.interval_ms &&
			    now_ns() - m.heartbeat_ns < (unsigned long long)PCF_TRACE_STALE_INTERVALS * m.interval_ms * 1000000ull;
		close(fd);
		if (live) {
			fprintf(stderr, "pcf-trace: another pcf-trace (worker pid %u) publishes to %s: this one only prints\n", m.pid, o->pin_dir);
			return;
		}
	}
	unlink(p->meta);
	unlink(p->bursts);
	if (bpf_map__pin(skel->maps.pcf_trace_bursts, p->bursts) ||
	    bpf_map__pin(skel->maps.pcf_trace_meta, p->meta)) {
		fprintf(stderr, "pcf-trace: pinning in %s failed (%s): the trace is not in /metrics\n", o->pin_dir, strerror(errno));
		unlink(p->bursts);
		return;
	}
	p->pinned = true;
}

static __u32 map_id(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	return fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len) ? info.id : 0;
}

/* Removes the pins if they are still this tool's (another may have replaced them since). */
static void unpublish(struct bursts *skel, struct pins *p)
{
	int fd;
	if (!p->pinned)
		return;
	p->pinned = false;
	fd = bpf_obj_get(p->meta);
	bool ours = fd >= 0 && map_id(fd) == map_id(bpf_map__fd(skel->maps.pcf_trace_meta));
	if (fd >= 0)
		close(fd);
	if (!ours)
		return;
	unlink(p->meta); /* first: the control plane looks for the meta */
	unlink(p->bursts);
}

static void beat(struct bursts *skel, const struct worker *w, struct pcf_trace_meta *m)
{
	__u32 zero = 0;
	m->heartbeat_ns = now_ns();
	m->pid = (__u32)w->pid;
	bpf_map__update_elem(skel->maps.pcf_trace_meta, &zero, sizeof(zero), m, sizeof(*m), BPF_ANY);
}

/* ---- Reading and printing ------------------------------------------------------------ */

/* RX before TX, then by queue and port: the order a reader scans. */
static int by_key(const void *x, const void *y)
{
	const struct pcf_burst_key *a = &((const struct sample *)x)->key, *b = &((const struct sample *)y)->key;
	if (a->dir != b->dir)
		return a->dir < b->dir ? -1 : 1;
	if (a->queue != b->queue)
		return a->queue < b->queue ? -1 : 1;
	return strncmp(a->port, b->port, sizeof(a->port));
}

static int snapshot(struct bursts *skel, struct sample *out, int max)
{
	int fd = bpf_map__fd(skel->maps.pcf_trace_bursts), n = 0;
	struct pcf_burst_key key, next;
	void *prev = NULL;
	while (n < max && !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		if (!bpf_map_lookup_elem(fd, &key, &out[n].s)) {
			out[n].key = key;
			n++;
		}
		prev = &key;
	}
	qsort(out, (size_t)n, sizeof(*out), by_key);
	return n;
}

static const struct pcf_burst_stats *find(const struct sample *s, int n, const struct pcf_burst_key *k)
{
	for (int i = 0; i < n; i++)
		if (!memcmp(&s[i].key, k, sizeof(*k)))
			return &s[i].s;
	return NULL;
}

static void stamp(char *buf, size_t len, bool iso)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (iso)
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000));
	else
		strftime(buf, len, "%H:%M:%S", &tm);
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void event(const struct opts *o, const char *what, int pid, const char *text)
{
	char t[64];
	stamp(t, sizeof(t), o->json);
	if (o->json)
		printf("{\"time\":\"%s\",\"event\":\"%s\",\"pid\":%d}\n", t, what, pid);
	else
		printf("%s  %s\n", t, text);
	fflush(stdout);
}

/* Power-of-two rows, as bpftrace's hist(): [1], [2,3], [4,7] ... [64+]. */
static void print_hist(const __u64 *h)
{
	__u64 rows[8] = { 0 }, max = 0;
	static const char *const label[] = { "1", "2-3", "4-7", "8-15", "16-31", "32-63", "64+" };
	for (int n = 1; n < PCF_BURST_HIST; n++) {
		int r = n == PCF_BURST_HIST - 1 ? 6 : 31 - __builtin_clz((unsigned int)n);
		rows[r] += h[n];
	}
	for (int r = 0; r < 7; r++)
		max = rows[r] > max ? rows[r] : max;
	for (int r = 0; r < 7; r++) {
		if (!rows[r])
			continue;
		int bar = (int)((rows[r] * 40 + max - 1) / max);
		printf("    %6s |%-40.*s| %llu\n", label[r], bar, "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@", (unsigned long long)rows[r]);
	}
}

static void report(const struct opts *o, int pid, double secs, const struct sample *cur, int n,
		   const struct sample *prev, int n_prev)
{
	char t[64];
	bool any = false;
	stamp(t, sizeof(t), o->json);
	if (o->json)
		printf("{\"time\":\"%s\",\"pid\":%d,\"interval_s\":%.3f,\"queues\":[", t, pid, secs);
	for (int i = 0; i < n; i++) {
		const struct pcf_burst_stats *c = &cur[i].s, *p = find(prev, n_prev, &cur[i].key);
		static const struct pcf_burst_stats none;
		struct pcf_burst_stats d;
		if (!p)
			p = &none;
		d.bursts = c->bursts - p->bursts;
		d.packets = c->packets - p->packets;
		d.sent = c->sent - p->sent;
		for (int k = 0; k < PCF_BURST_HIST; k++)
			d.hist[k] = c->hist[k] - p->hist[k];
		const char *dir = cur[i].key.dir == PCF_BURST_TX ? "tx" : "rx";
		if (o->json) {
			printf("%s{\"dir\":\"%s\",\"port\":", any ? "," : "", dir);
			json_str(cur[i].key.port);
			printf(",\"queue\":%u,\"bursts\":%llu,\"packets\":%llu,\"sent\":%llu,\"bursts_per_s\":%.1f,\"packets_per_s\":%.1f,\"hist\":{",
			       cur[i].key.queue, (unsigned long long)d.bursts, (unsigned long long)d.packets,
			       (unsigned long long)d.sent, d.bursts / secs, d.packets / secs);
			for (int k = 1, first = 1; k < PCF_BURST_HIST; k++)
				if (d.hist[k]) {
					printf("%s\"%d\":%llu", first ? "" : ",", k, (unsigned long long)d.hist[k]);
					first = 0;
				}
			printf("},\"total_bursts\":%llu,\"total_packets\":%llu,\"total_sent\":%llu}",
			       (unsigned long long)c->bursts, (unsigned long long)c->packets, (unsigned long long)c->sent);
			any = true;
		} else if (d.bursts) {
			char port[PCF_PORT_NAME_LEN + 32];
			if (cur[i].key.dir == PCF_BURST_TX)
				snprintf(port, sizeof(port), "%.*s (of rx queue %u)", PCF_PORT_NAME_LEN, cur[i].key.port, cur[i].key.queue);
			else
				snprintf(port, sizeof(port), "%.*s", PCF_PORT_NAME_LEN, cur[i].key.port);
			printf("%s  %s %-32s %9.0f bursts/s %10.0f pkts/s %5.1f pkts/burst", t, dir, port,
			       d.bursts / secs, d.packets / secs, (double)d.packets / (double)d.bursts);
			if (cur[i].key.dir == PCF_BURST_TX && d.sent != d.packets)
				printf(" (%llu refused)", (unsigned long long)(d.packets - d.sent));
			putchar('\n');
			print_hist(d.hist);
			any = true;
		}
	}
	if (o->json)
		printf("]}\n");
	else if (!any)
		printf("%s  no bursts (worker %d)\n", t, pid);
	fflush(stdout);
}

/* ---- Main loop ----------------------------------------------------------------------- */

static int choose_worker(ino_t netns, bool at_start)
{
	int pids[MAX_WORKERS], n = find_workers(netns, pids, MAX_WORKERS);
	if (n == 1)
		return pids[0];
	if (!at_start)
		return 0; /* none yet, or several: wait for one */
	if (n == 0)
		die(3, "no pcf-worker process runs: start it (make up, docker-compose up) or give --pid");
	fprintf(stderr, "pcf-trace: %d pcf-worker processes run:", n);
	for (int i = 0; i < n && i < MAX_WORKERS; i++)
		fprintf(stderr, " %d", pids[i]);
	die(3, "choose one with --pid");
	return 0;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

int main(int argc, char **argv)
{
	static struct sample a[PCF_TRACE_MAX_KEYS], b[PCF_TRACE_MAX_KEYS];
	struct sample *cur = a, *prev = b;
	struct pcf_trace_meta meta = { 0 };
	struct worker w = { 0 };
	struct pins pins = { 0 };
	struct opts o;
	char comm[32], msg[160];
	int n_prev = 0, err;

	parse_args(argc, argv, &o);
	libbpf_set_print(libbpf_print);
	int pid = o.pid ? o.pid : choose_worker(0, true);
	if (!read_comm(pid, comm, sizeof(comm)))
		die(3, "no process %d", pid);

	struct bursts *skel = bursts__open_and_load();
	if (!skel)
		die(4, "loading the trace programs failed (%s): needs CAP_BPF and CAP_PERFMON (root)", strerror(errno));
	err = attach(skel, &w, pid);
	if (err) {
		bursts__destroy(skel);
		die(4, "attaching to the USDT probes pcf_worker:rx_burst/tx_burst of pid %d (%s) failed: %s%s", pid, comm,
		    strerror(-err), strcmp(comm, "pcf-worker") ? " (it is not a pcf-worker)" : "");
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	meta.started_ns = now_ns();
	meta.interval_ms = o.interval_ms;
	meta.attaches = 1;
	beat(skel, &w, &meta);
	publish(skel, &o, &pins);
	snprintf(msg, sizeof(msg), "attached to %s pid %d%s%s; every %u ms", comm, pid,
		 pins.pinned ? ", published in " : "", pins.pinned ? o.pin_dir : "", o.interval_ms);
	event(&o, "attached", pid, msg);

	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	unsigned long long last = now_ns();
	for (unsigned long i = 0; !stop && (!o.count || i < o.count); i++) {
		next.tv_nsec += (long)(o.interval_ms % 1000) * 1000000L;
		next.tv_sec += o.interval_ms / 1000 + next.tv_nsec / 1000000000L;
		next.tv_nsec %= 1000000000L;
		while (!stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
		if (w.rx && !alive(&w)) {
			detach(&w);
			snprintf(msg, sizeof(msg), "worker %d exited; waiting for the next pcf-worker in its network namespace", w.pid);
			event(&o, "exited", w.pid, msg);
		}
		if (!w.rx) {
			int next_pid = choose_worker(w.netns, false);
			if (next_pid && (err = attach(skel, &w, next_pid)) == 0) {
				meta.attaches++;
				snprintf(msg, sizeof(msg), "attached to pcf-worker pid %d", next_pid);
				event(&o, "attached", next_pid, msg);
			} else if (next_pid) {
				w.pid = 0;
				fprintf(stderr, "pcf-trace: attaching to pid %d failed: %s; trying again\n", next_pid, strerror(-err));
			}
		}
		beat(skel, &w, &meta);
		unsigned long long t = now_ns();
		int n = snapshot(skel, cur, PCF_TRACE_MAX_KEYS);
		report(&o, w.pid, (double)(t - last) / 1e9, cur, n, prev, n_prev);
		last = t;
		struct sample *swap = prev;
		prev = cur;
		cur = swap;
		n_prev = n;
	}
	unpublish(skel, &pins);
	detach(&w);
	bursts__destroy(skel);
	return 0;
}
