/* nl.c - one rtnetlink dump (nl.h). Main lcore only: one static receive buffer. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include "nl.h"

#define NL_BUF 32768 /* the largest dump message the kernel sends (netlink max_recvmsg_len) */
#define NL_HDR_MAX 64 /* the family headers: ndmsg 12 bytes, rtmsg 12 */

int pcf_nl_dump(uint16_t type, uint8_t family, size_t hdr_len, uint16_t reply, pcf_nl_cb cb, void *arg)
{
	static char buf[NL_BUF] __attribute__((aligned(8)));
	struct {
		struct nlmsghdr nh;
		uint8_t hdr[NL_HDR_MAX];
	} req;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 1 };
	struct nlmsghdr *nh;
	int fd, len, ret = -1, err;
	bool done = false;

	if (hdr_len == 0 || hdr_len > NL_HDR_MAX) {
		errno = EINVAL;
		return -1;
	}
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(hdr_len);
	req.nh.nlmsg_type = type;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = 1;
	req.hdr[0] = family;
	if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	while (!done) {
		len = (int)recv(fd, buf, sizeof(buf), 0);
		if (len < 0 && errno == EINTR)
			continue;
		if (len <= 0) {
			if (len == 0)
				errno = EPROTO;
			goto out;
		}
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
			if (nh->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (nh->nlmsg_type == NLMSG_ERROR) {
				err = ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
				errno = err ? -err : EPROTO;
				goto out;
			}
			if (nh->nlmsg_type == reply)
				cb(nh, arg);
		}
	}
	ret = 0;
out:
	err = errno;
	close(fd);
	errno = err;
	return ret;
}
