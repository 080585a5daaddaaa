/* map_ops.cc - batch syscalls with per-element fallback, and full dumps. */
#include "map_ops.h"

#include "maps.h"

#include <algorithm>
#include <errno.h>
#include <string.h>

namespace pcf {

int UpdateElems(int fd, const void *keys, const void *values, uint32_t key_size,
		uint32_t value_stride, uint32_t n, uint32_t *done, const char **call)
{
	const uint8_t *k = (const uint8_t *)keys, *v = (const uint8_t *)values;
	*done = 0;
	if (n == 0)
		return 0;
	if (g_use_batch_syscalls) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
		__u32 count = n;
		int err = bpf_map_update_batch(fd, k, v, &count, &opts);
		if (!err) {
			*done = n;
			return 0;
		}
		err = -err;
		if (count != 0 || !BatchUnsupported(err)) {
			*done = err == EFAULT ? n : std::min<uint32_t>(count, n);
			*call = "bpf_map_update_batch";
			return err;
		}
		/* no batch op for this map on this kernel: element by element */
	}
	for (uint32_t i = 0; i < n; i++) {
		int err = bpf_map_update_elem(fd, k + (size_t)i * key_size,
					      v + (size_t)i * value_stride, BPF_ANY);
		if (err) {
			*done = i;
			*call = "bpf_map_update_elem";
			return -err;
		}
	}
	*done = n;
	return 0;
}

int DeleteElems(int fd, const void *keys, uint32_t key_size, uint32_t n, uint32_t *done,
		const char **call)
{
	const uint8_t *k = (const uint8_t *)keys;
	*done = 0;
	if (n == 0)
		return 0;
	if (g_use_batch_syscalls) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		__u32 count = n;
		int err = bpf_map_delete_batch(fd, k, &count, &opts);
		if (!err) {
			*done = n;
			return 0;
		}
		err = -err;
		if (count != 0 || !BatchUnsupported(err)) {
			*done = err == EFAULT ? n : std::min<uint32_t>(count, n);
			*call = "bpf_map_delete_batch";
			return err;
		}
	}
	for (uint32_t i = 0; i < n; i++) {
		int err = bpf_map_delete_elem(fd, k + (size_t)i * key_size);
		if (err && err != -ENOENT) { /* already gone is what we wanted */
			*done = i;
			*call = "bpf_map_delete_elem";
			return -err;
		}
	}
	*done = n;
	return 0;
}

static int DumpByNextKey(int fd, uint32_t key_size, uint32_t value_stride,
			 std::vector<uint8_t> *keys, std::vector<uint8_t> *values,
			 const char **call)
{
	std::vector<uint8_t> cur(key_size), next(key_size), val(value_stride);
	keys->clear();
	values->clear();
	bool first = true;
	for (;;) {
		int err = bpf_map_get_next_key(fd, first ? nullptr : cur.data(), next.data());
		if (err == -ENOENT)
			return 0;
		if (err) {
			*call = "bpf_map_get_next_key";
			return -err;
		}
		err = bpf_map_lookup_elem(fd, next.data(), val.data());
		if (err && err != -ENOENT) {
			*call = "bpf_map_lookup_elem";
			return -err;
		}
		if (!err) {
			keys->insert(keys->end(), next.begin(), next.end());
			values->insert(values->end(), val.begin(), val.end());
		}
		cur.swap(next);
		first = false;
	}
}

int ScanMap(int fd, uint32_t key_size, uint32_t value_stride, uint32_t want,
	    std::vector<uint8_t> *cursor, std::vector<uint8_t> *keys, std::vector<uint8_t> *values,
	    bool *done, const char **call)
{
	*done = false;
	if (!g_use_batch_syscalls) {
		*done = true;
		return DumpByNextKey(fd, key_size, value_stride, keys, values, call);
	}
	/* The batch cursor is opaque: a bucket index for hash maps, a key for arrays. */
	size_t token_size = std::max<size_t>(key_size, 8);
	bool first = cursor->empty();
	if (!first && cursor->size() != token_size)
		return EINVAL;
	std::vector<uint8_t> out(token_size);
	uint32_t chunk = std::max<uint32_t>(1, want);
	for (;;) {
		size_t nk = keys->size(), nv = values->size();
		keys->resize(nk + (size_t)chunk * key_size);
		values->resize(nv + (size_t)chunk * value_stride);
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		__u32 count = chunk;
		int err = bpf_map_lookup_batch(fd, first ? nullptr : cursor->data(), out.data(),
					       keys->data() + nk, values->data() + nv, &count,
					       &opts);
		err = err ? -err : 0;
		if (err == EFAULT)
			count = 0;
		count = std::min(count, chunk);
		keys->resize(nk + (size_t)count * key_size);
		values->resize(nv + (size_t)count * value_stride);
		if (err == ENOENT) { /* walked past the last entry */
			*done = true;
			return 0;
		}
		if (err == ENOSPC && count == 0) { /* one hash bucket holds more than chunk */
			chunk *= 2;
			continue;
		}
		if (err) {
			if (first && count == 0 && nk == 0 && BatchUnsupported(err)) {
				*done = true;
				return DumpByNextKey(fd, key_size, value_stride, keys, values,
						     call);
			}
			*call = "bpf_map_lookup_batch";
			return err;
		}
		cursor->assign(out.begin(), out.end());
		return 0;
	}
}

int DumpMap(int fd, uint32_t key_size, uint32_t value_stride, uint32_t max_entries,
	    std::vector<uint8_t> *keys, std::vector<uint8_t> *values, const char **call)
{
	uint32_t chunk = std::max<uint32_t>(1, std::min<uint32_t>(max_entries, 4096));
	std::vector<uint8_t> cursor;
	bool done = false;
	keys->clear();
	values->clear();
	while (!done) {
		int err = ScanMap(fd, key_size, value_stride, chunk, &cursor, keys, values, &done,
				  call);
		if (err)
			return err;
	}
	return 0;
}

std::vector<Napi::Value> OneOrMany(Napi::Value v, bool *is_array)
{
	std::vector<Napi::Value> items;
	*is_array = v.IsArray();
	if (*is_array) {
		Napi::Array a = v.As<Napi::Array>();
		uint32_t n = a.Length();
		items.reserve(n);
		for (uint32_t i = 0; i < n; i++)
			items.push_back(a.Get(i));
	} else {
		items.push_back(v);
	}
	return items;
}

} // namespace pcf
