/* pinned_map.cc - opening a pinned map and checking its shape against pcf_common.h. */
#include "maps.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

namespace pcf {

bool g_use_batch_syscalls = true;

bool BatchUnsupported(int err)
{
	return err == EINVAL || err == 524 /* ENOTSUPP */ || err == EOPNOTSUPP;
}

std::string MapTypeName(uint32_t type)
{
	const char *name = libbpf_bpf_map_type_str((enum bpf_map_type)type);
	return name ? name : "type " + std::to_string(type);
}

int PossibleCpus(Napi::Env env)
{
	static int ncpus = 0;
	if (ncpus <= 0) {
		int n = libbpf_num_possible_cpus();
		if (n <= 0)
			ThrowSys(env, n < 0 ? -n : EINVAL, "possibleCpus", "libbpf_num_possible_cpus",
				 "/sys/devices/system/cpu/possible");
		ncpus = n;
	}
	return ncpus;
}

/* bpf_obj_get() also opens pinned programs and links; only a map fd reads as
 * "anon_inode:bpf-map". */
static bool IsMapFd(int fd)
{
	char link[64], target[64];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return true; /* no /proc: let bpf_obj_get_info_by_fd and the checks decide */
	target[n] = '\0';
	return strcmp(target, "anon_inode:bpf-map") == 0;
}

/* Opens `path` and reads its bpf_map_info; returns the fd or -errno. */
static int OpenAndInfo(const std::string &path, __u32 file_flags, struct bpf_map_info *info,
		       const char **failed_call)
{
	LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = file_flags);
	int fd = bpf_obj_get_opts(path.c_str(), &opts);
	if (fd < 0) {
		*failed_call = "bpf_obj_get";
		return fd;
	}
	if (!IsMapFd(fd)) {
		close(fd);
		*failed_call = nullptr; /* not a map */
		return -ENOTSUP;
	}
	__u32 len = sizeof(*info);
	memset(info, 0, sizeof(*info));
	int err = bpf_obj_get_info_by_fd(fd, info, &len);
	if (err) {
		close(fd);
		*failed_call = "bpf_obj_get_info_by_fd";
		return err;
	}
	return fd;
}

static std::string Shape(const std::string &type, uint32_t key, const char *key_struct,
			 uint32_t value, const char *value_struct)
{
	return "a " + type + " map with key " + std::to_string(key) + " B" +
	       (key_struct ? std::string(" (") + key_struct + ")" : "") + ", value " +
	       std::to_string(value) + " B" +
	       (value_struct ? std::string(" (") + value_struct + ")" : "");
}

void PinnedMap::Open(Napi::Env env, const std::string &path, const MapSpec &spec)
{
	Close();
	const char *failed_call = nullptr;
	struct bpf_map_info info;
	int fd = OpenAndInfo(path, spec.read_only ? BPF_F_RDONLY : 0, &info, &failed_call);
	if (fd < 0) {
		if (!failed_call)
			throw PcfError(env, "ERR_PCF_MAP_LAYOUT", path,
				       path + " is pinned but is not a BPF map; expected the " +
					       spec.what);
		ThrowSys(env, -fd, "open", failed_call, path);
	}

	bool type_ok = info.type == (uint32_t)spec.type;
	bool shape_ok = type_ok && info.key_size == spec.key_size &&
			info.value_size == spec.value_size;
	if (!shape_ok || info.max_entries < spec.min_entries) {
		close(fd);
		std::string want = Shape(MapTypeName(spec.type), spec.key_size, spec.key_struct,
					 spec.value_size, spec.value_struct);
		std::string got = Shape(MapTypeName(info.type), info.key_size, nullptr,
					info.value_size, nullptr);
		std::string msg;
		if (!type_ok)
			msg = path + " is a map of the wrong type (" + got +
			      "): pcf_common.h defines the " + spec.what + " as " + want;
		else if (!shape_ok)
			msg = path + " is " + got + "; pcf_common.h defines the " + spec.what +
			      " as " + want;
		else
			msg = path + " has max_entries " + std::to_string(info.max_entries) +
			      ", pcf_common.h needs at least " + std::to_string(spec.min_entries) +
			      " for the " + spec.what;
		throw PcfError(env, "ERR_PCF_MAP_LAYOUT", path,
			       msg + ". The loader and the addon were built from different "
				     "pcf_common.h: detach --purge and attach again (pcf-xdp "
				     "detach --iface IF --purge, then pcf-xdp attach --iface IF), "
				     "which re-creates the pinned maps, or rebuild the addon if it "
				     "is the older side.");
	}
	fd_ = fd;
	path_ = path;
	info_ = info;
}

void PinnedMap::Close()
{
	if (fd_ >= 0)
		close(fd_);
	fd_ = -1;
}

int PinnedMap::Fd(Napi::Env env, const char *op) const
{
	if (fd_ < 0) {
		Napi::Error e = SysError(env, EBADF, op, "close", path_);
		e.Value().Set("message", op + std::string(": the map ") + path_ +
						 " was closed (EBADF)");
		throw e;
	}
	return fd_;
}

int64_t PinnedMapId(Napi::Env env, const std::string &path)
{
	const char *failed_call = nullptr;
	struct bpf_map_info info;
	int fd = OpenAndInfo(path, BPF_F_RDONLY, &info, &failed_call);
	if (fd < 0) {
		if (fd == -ENOENT && failed_call && strcmp(failed_call, "bpf_obj_get") == 0)
			return -1;
		if (!failed_call)
			throw PcfError(env, "ERR_PCF_MAP_LAYOUT", path,
				       path + " is pinned but is not a BPF map");
		ThrowSys(env, -fd, "pinnedMapId", failed_call, path);
	}
	close(fd);
	return info.id;
}

} // namespace pcf
