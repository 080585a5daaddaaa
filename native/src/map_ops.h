/* map_ops.h - multi-element map operations shared by the map classes: batch syscalls with a
 * per-element fallback, and a full dump. Each returns 0 or a positive errno and names the
 * libbpf call that failed, so the caller builds the JS error. */
#ifndef PCF_NATIVE_MAP_OPS_H
#define PCF_NATIVE_MAP_OPS_H

#include <napi.h>

#include <stdint.h>
#include <string>
#include <vector>

namespace pcf {

/* Updates n elements (BPF_ANY) with bpf_map_update_batch, or one by one when the kernel has
 * no batch op for the map. On failure *done is the number of leading elements applied
 * (all n after EFAULT, when the kernel's count cannot be trusted). */
int UpdateElems(int fd, const void *keys, const void *values, uint32_t key_size,
		uint32_t value_stride, uint32_t n, uint32_t *done, const char **call);

/* Deletes n elements (all present) with bpf_map_delete_batch or one by one; *done as above. */
int DeleteElems(int fd, const void *keys, uint32_t key_size, uint32_t n, uint32_t *done,
		const char **call);

/* Reads every entry: bpf_map_lookup_batch, or bpf_map_get_next_key + bpf_map_lookup_elem
 * when the kernel has no batch op. value_stride is the whole value (all CPUs for per-CPU
 * maps). Entries deleted while iterating are skipped. */
int DumpMap(int fd, uint32_t key_size, uint32_t value_stride, uint32_t max_entries,
	    std::vector<uint8_t> *keys, std::vector<uint8_t> *values, const char **call);

/* One step of a resumable walk (DumpMap in steps, so that a caller can yield between them):
 * appends about `want` entries (more when one hash bucket holds more) and sets `cursor`
 * (empty: from the start) to where the next step goes on; *done once the walk reached the
 * end. Without batch syscalls the first step reads everything. Entries added or deleted
 * between steps may be seen or not. */
int ScanMap(int fd, uint32_t key_size, uint32_t value_stride, uint32_t want,
	    std::vector<uint8_t> *cursor, std::vector<uint8_t> *keys, std::vector<uint8_t> *values,
	    bool *done, const char **call);

/* The argument as a list: each element of an array, or the value itself (*is_array false:
 * messages name it without an index). */
std::vector<Napi::Value> OneOrMany(Napi::Value v, bool *is_array);

} // namespace pcf

#endif /* PCF_NATIVE_MAP_OPS_H */
