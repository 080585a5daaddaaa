// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* test_udp.c - the UDP ends of test_loader.sh's end-to-end checks, with nothing but libc:
 *   test_udp send SRC_ADDR SRC_PORT DST_ADDR DST_PORT [COUNT]   datagrams from a fixed port
 *   test_udp recv ADDR PORT TIMEOUT_MS                          one datagram; prints the
 *       skb->mark it arrived with (SO_RCVMARK, Linux 5.19+): "mark=0x2a"
 * "ready" is printed once the receiver is bound. Exit 0 ok, 1 nothing received or an error,
 * 2 usage. */
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

static int addr(const char *ip, const char *port, struct sockaddr_in *a)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons(atoi(port));
	return inet_pton(AF_INET, ip, &a->sin_addr) == 1 ? 0 : -1;
}

static int do_send(int argc, char **argv)
{
	struct sockaddr_in src, dst;
	int fd = -1, one = 1, n, i, ret = 1;

	if ((argc != 6 && argc != 7) || addr(argv[2], argv[3], &src) || addr(argv[4], argv[5], &dst))
		return 2;
	n = argc == 7 ? atoi(argv[6]) : 1;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&src, sizeof(src))) {
		fprintf(stderr, "test_udp: failed to bind the sender: %s\n", strerror(errno));
		goto cleanup;
	}
	for (i = 0; i < n; i++)
		if (sendto(fd, "pcf", 3, 0, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
			fprintf(stderr, "test_udp: failed to send: %s\n", strerror(errno));
			goto cleanup;
		}
	ret = 0;
cleanup:
	if (fd >= 0)
		close(fd);
	return ret;
}

static int do_recv(int argc, char **argv)
{
	char buf[2048], cbuf[CMSG_SPACE(sizeof(unsigned int))];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct sockaddr_in a;
	struct pollfd pfd;
	struct cmsghdr *c;
	unsigned int mark = 0;
	int fd = -1, one = 1, ret = 1;

	if (argc != 5 || addr(argv[2], argv[3], &a))
		return 2;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVMARK, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		fprintf(stderr, "test_udp: failed to set up the receiver: %s\n", strerror(errno));
		goto cleanup;
	}
	printf("ready\n");
	fflush(stdout);
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, atoi(argv[4])) != 1) {
		printf("nothing\n");
		goto cleanup;
	}
	if (recvmsg(fd, &m, 0) < 0) {
		fprintf(stderr, "test_udp: failed to receive: %s\n", strerror(errno));
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

int main(int argc, char **argv)
{
	int ret = 2;

	if (argc > 1 && !strcmp(argv[1], "send"))
		ret = do_send(argc, argv);
	else if (argc > 1 && !strcmp(argv[1], "recv"))
		ret = do_recv(argc, argv);
	if (ret == 2)
		fprintf(stderr, "usage: test_udp send SRC_ADDR SRC_PORT DST_ADDR DST_PORT [COUNT]\n"
				"       test_udp recv ADDR PORT TIMEOUT_MS\n");
	return ret;
}
