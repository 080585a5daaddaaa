/* errors.h - how the addon reports failures to JavaScript.
 *
 * Three kinds, each an exception the caller can tell apart by `code`:
 *   - a failed bpf() call: Error with errno (positive), code ('ENOENT', 'E2BIG', ...),
 *     syscall (the libbpf function), op (the addon method) and path (the pinned map);
 *   - a bad argument: TypeError with code 'ERR_PCF_INVALID_ARG' and field ('entries[2].key.srcIp');
 *   - a pinned map whose shape is not the one pcf_common.h describes (a stale program), or a
 *     value in a map the addon cannot decode: Error with code 'ERR_PCF_MAP_LAYOUT' or
 *     'ERR_PCF_BAD_VALUE' and path (no errno: no system call failed).
 */
#ifndef PCF_NATIVE_ERRORS_H
#define PCF_NATIVE_ERRORS_H

#include <napi.h>

#include <string>

namespace pcf {

/* 'E2BIG' for E2BIG; 'ENOTSUPP' for the kernel-internal 524; 'E<n>' when unknown. */
std::string ErrnoCode(int err);

/* Error for a failed system call; `err` is a positive errno. The caller may add properties
 * (index, rollback outcome) before throwing it. */
Napi::Error SysError(Napi::Env env, int err, const char *op, const char *syscall,
		     const std::string &path);

[[noreturn]] void ThrowSys(Napi::Env env, int err, const char *op, const char *syscall,
			   const std::string &path);

/* TypeError naming the offending field. */
[[noreturn]] void ThrowArg(Napi::Env env, const std::string &field, const std::string &what);

/* Error with a non-errno code (ERR_PCF_MAP_LAYOUT, ERR_PCF_BAD_VALUE), naming the path. */
Napi::Error PcfError(Napi::Env env, const char *code, const std::string &path,
		     const std::string &message);

} // namespace pcf

#endif /* PCF_NATIVE_ERRORS_H */
