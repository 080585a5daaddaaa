/* errors.cc - Error objects for failed bpf() calls, bad arguments and stale map layouts. */
#include "errors.h"

#include <string.h>

namespace pcf {

std::string ErrnoCode(int err)
{
	if (err == 524) /* ENOTSUPP: kernel-internal, absent from libc */
		return "ENOTSUPP";
	const char *name = strerrorname_np(err);
	if (name)
		return name;
	return "E" + std::to_string(err);
}

static std::string Describe(int err)
{
	if (err == 524)
		return "Operation not supported";
	return strerror(err);
}

Napi::Error SysError(Napi::Env env, int err, const char *op, const char *syscall,
		     const std::string &path)
{
	std::string code = ErrnoCode(err);
	std::string msg = std::string(op) + ": " + syscall + " failed on " + path + ": " +
			  Describe(err) + " (" + code + ")";
	Napi::Error e = Napi::Error::New(env, msg);
	Napi::Object o = e.Value();
	o.Set("errno", Napi::Number::New(env, err));
	o.Set("code", Napi::String::New(env, code));
	o.Set("syscall", Napi::String::New(env, syscall));
	o.Set("op", Napi::String::New(env, op));
	o.Set("path", Napi::String::New(env, path));
	return e;
}

void ThrowSys(Napi::Env env, int err, const char *op, const char *syscall,
	      const std::string &path)
{
	throw SysError(env, err, op, syscall, path);
}

void ThrowArg(Napi::Env env, const std::string &field, const std::string &what)
{
	Napi::TypeError e = Napi::TypeError::New(env, field + ": " + what);
	Napi::Object o = e.Value();
	o.Set("code", Napi::String::New(env, "ERR_PCF_INVALID_ARG"));
	o.Set("field", Napi::String::New(env, field));
	throw e;
}

Napi::Error PcfError(Napi::Env env, const char *code, const std::string &path,
		     const std::string &message)
{
	Napi::Error e = Napi::Error::New(env, message);
	Napi::Object o = e.Value();
	o.Set("code", Napi::String::New(env, code));
	o.Set("path", Napi::String::New(env, path));
	return e;
}

} // namespace pcf
