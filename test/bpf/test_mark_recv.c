// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* test_mark_recv.c - receive one UDP datagram and print the skb->mark it arrived with
 * (SO_RCVMARK, Linux 5.19+), for test_loader.sh: it proves that pcf_tc_mark turned a rule's
 * mark into skb->mark on the kernel path.
 *
 * Usage: test_mark_recv ADDR PORT TIMEOUT_MS  -> prints "mark=0x..." and exits 0; exit 1 on
 * timeout or error. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_RCVMARK
#define SO_RCVMARK 75
#endif

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	char buf[2048], cbuf[CMSG_SPACE(sizeof(unsigned int))];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct pollfd pfd;
	struct cmsghdr *c;
	unsigned int mark = 0;
	int fd, one = 1, ret = 1;

	if (argc != 4 || inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
		fprintf(stderr, "usage: test_mark_recv ADDR PORT TIMEOUT_MS\n");
		return 2;
	}
	a.sin_port = htons(atoi(argv[2]));
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVMARK, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		fprintf(stderr, "test_mark_recv: failed to set up the socket: %s\n", strerror(errno));
		goto cleanup;
	}
	printf("ready\n");
	fflush(stdout);
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, atoi(argv[3])) != 1) {
		fprintf(stderr, "test_mark_recv: nothing received\n");
		goto cleanup;
	}
	if (recvmsg(fd, &m, 0) < 0) {
		fprintf(stderr, "test_mark_recv: failed to receive: %s\n", strerror(errno));
		goto cleanup;
	}
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_MARK)
			memcpy(&mark, CMSG_DATA(c), sizeof(mark));
	printf("mark=0x%x\n", mark);
	ret = 0;
cleanup:
	if (fd >= 0)
		close(fd);
	return ret;
}
