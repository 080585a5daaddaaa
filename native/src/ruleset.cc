/* ruleset.cc - the classifier maps of rules with a precedence (pcf_rules, pcf_match_map,
 * pcf_shapes, pcf_ruleset) and the one operation that changes them: commit.
 *
 * A commit stages the next generation where packets of the current one do not look (the
 * half of each pcf_rule that the current generation does not read, buckets that only gain
 * slots, the shape table of the other parity), then publishes it with one 8-byte store of
 * pcf_ruleset.gen. Each packet reads gen once, so it is classified wholly by the old rule set
 * or wholly by the new one. When a staging write fails, everything staged is put back as it
 * was and nothing is published.
 *
 * What a commit overwrites (the other halves, the other parity's shapes) and what cleanup()
 * cuts from buckets was last read by packets of an older generation. Such a packet may still
 * be running (XDP on another CPU, a vCPU preempted mid-packet), so before writing, the commit
 * stores pcf_ruleset.staging: a packet that read a generation two or more behind it
 * classifies again (a seqlock; xdp/README.md: Classifier). No commit waits for packets.
 *
 * pcf_rules and pcf_ruleset are mmapable: bodies and the generation are plain stores, in
 * order, with no syscall and no memcpy that a packet could see half-done.
 */
#include "codec.h"
#include "map_ops.h"
#include "maps.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>

namespace pcf {

static const MapSpec kRulesSpec = {
	"rule bodies (" PCF_PIN_RULES ")", BPF_MAP_TYPE_ARRAY, sizeof(__u32), "__u32",
	sizeof(struct pcf_rule), "struct pcf_rule", 1, false,
};
static const MapSpec kMatchSpec = {
	"match map (" PCF_PIN_MATCH_MAP ")", BPF_MAP_TYPE_HASH, sizeof(struct pcf_match_key),
	"struct pcf_match_key", sizeof(struct pcf_bucket), "struct pcf_bucket", 1, false,
};
static const MapSpec kShapesSpec = {
	"shape table (" PCF_PIN_SHAPES ")", BPF_MAP_TYPE_ARRAY, sizeof(__u32), "__u32",
	sizeof(struct pcf_shape), "struct pcf_shape", 2 * PCF_MAX_SHAPES, false,
};
static const MapSpec kNat6Spec = {
	"IPv6 NAT addresses (" PCF_PIN_NAT6 ")", BPF_MAP_TYPE_ARRAY, sizeof(__u32), "__u32",
	sizeof(struct pcf_nat6), "struct pcf_nat6", 1, false,
};
static const MapSpec kRulesetSpec = {
	"rule set (" PCF_PIN_RULESET ")", BPF_MAP_TYPE_ARRAY, sizeof(__u32), "__u32",
	sizeof(struct pcf_ruleset), "struct pcf_ruleset", 1, false,
};

static_assert(sizeof(struct pcf_tuple) == 40, "pcf_tuple is 40 bytes");
static_assert(sizeof(struct pcf_match_key) == 40, "pcf_match_key is 40 bytes");
static_assert(sizeof(struct pcf_rule_body) == 48, "pcf_rule_body is 48 bytes");
static_assert(sizeof(struct pcf_rule) == 112, "pcf_rule is 112 bytes (an mmapable array's stride)");
static_assert(sizeof(struct pcf_ruleset) == 32, "pcf_ruleset is 32 bytes");
static_assert(sizeof(struct pcf_shape) == 48, "pcf_shape is 48 bytes");

class RuleSet : public Napi::ObjectWrap<RuleSet> {
public:
	static Napi::Function Init(Napi::Env env)
	{
		return DefineClass(env, "RuleSet",
				   {
					   InstanceMethod("readState", &RuleSet::ReadState),
					   InstanceMethod("commit", &RuleSet::Commit),
					   InstanceMethod("cleanup", &RuleSet::Cleanup),
					   InstanceMethod("listBuckets", &RuleSet::ListBuckets),
					   InstanceMethod("liveSlots", &RuleSet::LiveSlots),
					   InstanceMethod("readRule", &RuleSet::ReadRule),
					   InstanceMethod("readShapes", &RuleSet::ReadShapes),
					   InstanceMethod("setNat6", &RuleSet::SetNat6),
					   InstanceMethod("readNat6", &RuleSet::ReadNat6),
					   InstanceMethod("setNoExact", &RuleSet::SetNoExact),
					   InstanceMethod("close", &RuleSet::Close),
					   InstanceAccessor("maxSlots", &RuleSet::MaxSlots, nullptr),
					   InstanceAccessor("maxBuckets", &RuleSet::MaxBuckets, nullptr),
				   });
	}

	/* new RuleSet(pinDir) */
	explicit RuleSet(const Napi::CallbackInfo &info) : Napi::ObjectWrap<RuleSet>(info)
	{
		Napi::Env env = info.Env();
		if (info.Length() < 1 || !info[0].IsString())
			ThrowArg(env, "pinDir", "must be the pin dir (string)");
		std::string dir = info[0].As<Napi::String>().Utf8Value();
		rules_.Open(env, dir + "/" PCF_PIN_RULES, kRulesSpec);
		match_.Open(env, dir + "/" PCF_PIN_MATCH_MAP, kMatchSpec);
		shapes_.Open(env, dir + "/" PCF_PIN_SHAPES, kShapesSpec);
		ruleset_.Open(env, dir + "/" PCF_PIN_RULESET, kRulesetSpec);
		nat6_.Open(env, dir + "/" PCF_PIN_NAT6, kNat6Spec);
		try {
			rule_mem_ = (struct pcf_rule *)Map(env, rules_, &rule_len_);
			rs_mem_ = (struct pcf_ruleset *)Map(env, ruleset_, &rs_len_);
			DropUnpublished();
		} catch (...) {
			Unmap();
			throw;
		}
	}

	~RuleSet() override { Unmap(); }

private:
	PinnedMap rules_, match_, shapes_, ruleset_, nat6_;
	struct pcf_rule *rule_mem_ = nullptr;
	struct pcf_ruleset *rs_mem_ = nullptr;
	size_t rule_len_ = 0, rs_len_ = 0;

	/* Halves staged for a generation that was never published (a process that died in a
	 * commit): the next commit to that generation must not find them. Tag 0 is no
	 * generation's (the first commit publishes 1), so such a half is never the newest. */
	void DropUnpublished()
	{
		__u64 gen = __atomic_load_n(&rs_mem_->gen, __ATOMIC_ACQUIRE);
		for (__u32 slot = 0; slot < rules_.Info().max_entries; slot++)
			for (struct pcf_rule_half &h : rule_mem_[slot].half)
				if (h.gen > gen) {
					h.body.live = 0;
					__atomic_store_n(&h.gen, (__u64)0, __ATOMIC_RELEASE);
				}
	}

	static void *Map(Napi::Env env, const PinnedMap &m, size_t *len)
	{
		long page = sysconf(_SC_PAGESIZE);
		size_t stride = (m.Info().value_size + 7) & ~7u;
		*len = ((size_t)m.Info().max_entries * stride + page - 1) / page * page;
		void *p = mmap(nullptr, *len, PROT_READ | PROT_WRITE, MAP_SHARED, m.Fd(env, "open"), 0);
		if (p == MAP_FAILED)
			ThrowSys(env, errno, "open", "mmap (the map must be BPF_F_MMAPABLE)", m.Path());
		return p;
	}

	void Unmap()
	{
		if (rule_mem_)
			munmap(rule_mem_, rule_len_);
		if (rs_mem_)
			munmap(rs_mem_, rs_len_);
		rule_mem_ = nullptr;
		rs_mem_ = nullptr;
	}

	/* From here on, what packets of generations before `gen` read may change: those still
	 * running classify again. Stores after this one are seen after it (release fence). */
	void Staging(__u64 gen)
	{
		__atomic_store_n(&rs_mem_->staging, gen, __ATOMIC_RELEASE);
		std::atomic_thread_fence(std::memory_order_seq_cst);
	}

	/* setNoExact(bool): tells XDP that pcf_flow_map is empty (skip its lookup). Set before the
	 * last exact rule goes and cleared before the first one comes, by the only writer. */
	Napi::Value SetNoExact(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		if (info.Length() < 1 || !info[0].IsBoolean())
			ThrowArg(env, "noExact", "must be a boolean");
		Live(env, "setNoExact");
		__atomic_store_n(&rs_mem_->no_exact, info[0].As<Napi::Boolean>().Value() ? 1u : 0u,
				 __ATOMIC_RELEASE);
		return env.Undefined();
	}

	/* setNat6(slot, snatIp, dnatIp): the IPv6 NAT addresses of the rule at slot (null: keep
	 * the packet's). Written before the rule's commit; the worker reads them by mmap. */
	Napi::Value SetNat6(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		if (info.Length() < 3 || !info[0].IsNumber())
			ThrowArg(env, "slot", "setNat6(slot, snatIp, dnatIp)");
		__u32 slot = info[0].As<Napi::Number>().Uint32Value();
		if (slot >= nat6_.Info().max_entries)
			ThrowArg(env, "slot", "beyond " PCF_PIN_NAT6);
		struct pcf_nat6 n;
		memset(&n, 0, sizeof(n));
		const char *names[2] = {"snatIp", "dnatIp"};
		__u8 *out[2] = {n.snat_ip, n.dnat_ip};
		for (int i = 0; i < 2; i++) {
			Napi::Value v = info[1 + i];
			if (v.IsNull() || v.IsUndefined())
				continue;
			std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
			if (inet_pton(AF_INET6, s.c_str(), out[i]) != 1)
				ThrowArg(env, names[i], "must be an IPv6 address or null");
		}
		if (bpf_map_update_elem(nat6_.Fd(env, "setNat6"), &slot, &n, BPF_ANY))
			ThrowSys(env, errno, "setNat6", "bpf_map_update_elem", nat6_.Path());
		return env.Undefined();
	}

	/* readNat6(slot): {snatIp, dnatIp} of pcf_nat6[slot] as the worker reads them (null: an
	 * all-zero address, the packet's own is kept). */
	Napi::Value ReadNat6(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		if (info.Length() < 1 || !info[0].IsNumber())
			ThrowArg(env, "slot", "must be a number");
		__u32 slot = info[0].As<Napi::Number>().Uint32Value();
		if (slot >= nat6_.Info().max_entries)
			ThrowArg(env, "slot", "beyond " PCF_PIN_NAT6);
		struct pcf_nat6 n;
		if (bpf_map_lookup_elem(nat6_.Fd(env, "readNat6"), &slot, &n))
			ThrowSys(env, errno, "readNat6", "bpf_map_lookup_elem", nat6_.Path());
		static const __u8 zero[16] = {0};
		const char *names[2] = {"snatIp", "dnatIp"};
		const __u8 *addr[2] = {n.snat_ip, n.dnat_ip};
		Napi::Object o = Napi::Object::New(env);
		for (int i = 0; i < 2; i++) {
			char buf[INET6_ADDRSTRLEN];
			if (!memcmp(addr[i], zero, sizeof(zero)))
				o.Set(names[i], env.Null());
			else
				o.Set(names[i], inet_ntop(AF_INET6, addr[i], buf, sizeof(buf)));
		}
		return o;
	}

	/* Throws EBADF naming op once closed. */
	void Live(Napi::Env env, const char *op)
	{
		if (!rs_mem_)
			ruleset_.Fd(env, op);
	}

	struct pcf_ruleset Read(Napi::Env env, const char *op)
	{
		Live(env, op);
		struct pcf_ruleset rs;
		rs.gen = __atomic_load_n(&rs_mem_->gen, __ATOMIC_ACQUIRE);
		rs.staging = __atomic_load_n(&rs_mem_->staging, __ATOMIC_ACQUIRE);
		rs.n_shapes[0] = rs_mem_->n_shapes[0];
		rs.n_shapes[1] = rs_mem_->n_shapes[1];
		rs.no_exact = rs_mem_->no_exact;
		rs.pad = 0;
		return rs;
	}

	Napi::Value ReadState(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		struct pcf_ruleset rs = Read(env, "readState");
		Napi::Object o = Napi::Object::New(env);
		o.Set("gen", Napi::Number::New(env, (double)rs.gen));
		Napi::Array n = Napi::Array::New(env, 2);
		n.Set(0u, Napi::Number::New(env, rs.n_shapes[0]));
		n.Set(1u, Napi::Number::New(env, rs.n_shapes[1]));
		o.Set("nShapes", n);
		return o;
	}

	Napi::Value MaxSlots(const Napi::CallbackInfo &info)
	{
		return Napi::Number::New(info.Env(), rules_.Info().max_entries);
	}
	Napi::Value MaxBuckets(const Napi::CallbackInfo &info)
	{
		return Napi::Number::New(info.Env(), match_.Info().max_entries);
	}

	Napi::Value Close(const Napi::CallbackInfo &info)
	{
		Unmap();
		rules_.Close();
		match_.Close();
		shapes_.Close();
		ruleset_.Close();
		nat6_.Close();
		return info.Env().Undefined();
	}

	/* ---- JS -> structs (the control plane validated the rules; this checks sizes) ---- */

	static double Num(Napi::Env env, Napi::Object o, const char *name, const std::string &field,
			  double min, double max)
	{
		Napi::Value v = o.Get(name);
		if (!v.IsNumber())
			ThrowArg(env, field + "." + name, "must be a number");
		double d = v.As<Napi::Number>().DoubleValue();
		if (d != (double)(int64_t)d || d < min || d > max)
			ThrowArg(env, field + "." + name,
				 "must be an integer in " + std::to_string((long long)min) + ".." +
					 std::to_string((long long)max));
		return d;
	}

	/* An address string into 4 words (IPv4 in the first); null/undefined: zeros. */
	static void Addr(Napi::Env env, Napi::Value v, const std::string &field, __u32 out[4])
	{
		memset(out, 0, 16);
		if (v.IsNull() || v.IsUndefined())
			return;
		if (!v.IsString())
			ThrowArg(env, field, "must be an address string or null");
		std::string s = v.As<Napi::String>().Utf8Value();
		if (inet_pton(AF_INET, s.c_str(), out) == 1)
			return;
		if (inet_pton(AF_INET6, s.c_str(), out) == 1)
			return;
		ThrowArg(env, field, "'" + s + "' is not an IPv4 or IPv6 address");
	}

	static struct pcf_match_key Key(Napi::Env env, Napi::Value v, const std::string &field)
	{
		if (!v.IsObject())
			ThrowArg(env, field, "must be an object");
		Napi::Object o = v.As<Napi::Object>();
		struct pcf_match_key k;
		memset(&k, 0, sizeof(k));
		k.shape = (__u8)Num(env, o, "shape", field, 0, PCF_MAX_SHAPES - 1);
		k.proto = (__u8)Num(env, o, "proto", field, 0, 255);
		k.src_port = htons((__u16)Num(env, o, "srcPort", field, 0, 65535));
		k.dst_port = htons((__u16)Num(env, o, "dstPort", field, 0, 65535));
		Addr(env, o.Get("src"), field + ".src", k.src);
		Addr(env, o.Get("dst"), field + ".dst", k.dst);
		return k;
	}

	static std::vector<__u32> Slots(Napi::Env env, Napi::Value v, const std::string &field)
	{
		if (!v.IsArray())
			ThrowArg(env, field, "must be an array of slots");
		Napi::Array a = v.As<Napi::Array>();
		if (a.Length() > PCF_BUCKET_SLOTS)
			ThrowArg(env, field, "holds more than " + std::to_string(PCF_BUCKET_SLOTS) + " slots");
		std::vector<__u32> out;
		for (uint32_t i = 0; i < a.Length(); i++) {
			Napi::Value s = a.Get(i);
			double d = s.IsNumber() ? s.As<Napi::Number>().DoubleValue() : -1;
			if (d < 0 || d > 4294967294.0 || d != (double)(int64_t)d)
				ThrowArg(env, field + "[" + std::to_string(i) + "]", "must be a slot (u32)");
			out.push_back((__u32)d);
		}
		return out;
	}

	/* {precedence, srcPorts: [lo, hi], dstPorts: [lo, hi], action}; null: no rule. */
	using Buckets = std::vector<std::pair<struct pcf_match_key, std::vector<__u32>>>;

	/* [{key, slots}] of commit() and cleanup(). */
	static Buckets BucketList(Napi::Env env, Napi::Array ba)
	{
		Buckets out;
		for (uint32_t i = 0; i < ba.Length(); i++) {
			std::string f = "buckets[" + std::to_string(i) + "]";
			Napi::Value e = ba.Get(i);
			if (!e.IsObject())
				ThrowArg(env, f, "must be {key, slots}");
			Napi::Object eo = e.As<Napi::Object>();
			out.emplace_back(Key(env, eo.Get("key"), f + ".key"),
					 Slots(env, eo.Get("slots"), f + ".slots"));
		}
		return out;
	}

	static struct pcf_rule_body Body(Napi::Env env, Napi::Value v, const std::string &field)
	{
		struct pcf_rule_body b;
		memset(&b, 0, sizeof(b));
		if (v.IsNull() || v.IsUndefined())
			return b; /* live = 0 */
		if (!v.IsObject())
			ThrowArg(env, field, "must be a rule body or null");
		Napi::Object o = v.As<Napi::Object>();
		__u64 prec = (__u64)Num(env, o, "precedence", field, 0, 4294967295.0);
		for (const char *side : {"srcPorts", "dstPorts"}) {
			Napi::Value r = o.Get(side);
			if (!r.IsArray() || r.As<Napi::Array>().Length() != 2)
				ThrowArg(env, field + "." + side, "must be [lo, hi]");
			Napi::Object ro = r.As<Napi::Object>();
			std::string f = field + "." + side;
			double lo = Num(env, ro, "0", f, 0, 65535), hi = Num(env, ro, "1", f, 0, 65535);
			if (lo > hi)
				ThrowArg(env, f, "lo above hi");
			if (side[0] == 's') {
				b.src_port_lo = (__u16)lo;
				b.src_port_hi = (__u16)hi;
			} else {
				b.dst_port_lo = (__u16)lo;
				b.dst_port_hi = (__u16)hi;
			}
		}
		Napi::Value a = o.Get("action");
		FlowNames n(env);
		JsVal blk[kActionFields];
		blk[kActionObject] = Classify(env, a);
		if (blk[kActionObject].kind == Kind::kObject) {
			napi_value names[kActionFields] = {nullptr, n.ruleId, n.statsSlot, n.type,
							  n.ttlDelta, n.mark, n.queueId, n.snatIp,
							  n.snatPort, n.dnatIp, n.dnatPort, n.mirror};
			for (int i = 1; i < kActionFields; i++)
				blk[i] = Classify(env, a.As<Napi::Object>().Get(Napi::Value(env, names[i])));
		}
		FieldPath fp{"body"};
		b.action = PackFlowAction(env, blk, fp);
		b.rank = prec << 32 | b.action.rule_id;
		b.live = 1;
		return b;
	}

	static struct pcf_shape Shape(Napi::Env env, Napi::Value v, const std::string &field)
	{
		if (!v.IsObject())
			ThrowArg(env, field, "must be a shape");
		Napi::Object o = v.As<Napi::Object>();
		struct pcf_shape s;
		memset(&s, 0, sizeof(s));
		s.id = (__u8)Num(env, o, "id", field, 0, PCF_MAX_SHAPES - 1);
		s.family = (__u8)Num(env, o, "family", field, 0, 6);
		if (s.family != 0 && s.family != PCF_FAMILY_IPV4 && s.family != PCF_FAMILY_IPV6)
			ThrowArg(env, field + ".family", "must be 0 (any), 4 or 6");
		s.flags = (__u8)Num(env, o, "flags", field, 0, 7);
		unsigned max = s.family == PCF_FAMILY_IPV6 ? 128 : s.family == PCF_FAMILY_IPV4 ? 32 : 0;
		unsigned lens[2] = {(unsigned)Num(env, o, "srcLen", field, 0, max),
				    (unsigned)Num(env, o, "dstLen", field, 0, max)};
		__u32 *masks[2] = {s.src_mask, s.dst_mask};
		for (int m = 0; m < 2; m++)
			for (unsigned w = 0; w < 4; w++) {
				unsigned bits = lens[m] > 32 * w ? std::min(32u, lens[m] - 32 * w) : 0;
				masks[m][w] = bits ? htonl(bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits)) : 0;
			}
		__u64 prec = (__u64)Num(env, o, "minPrecedence", field, 0, 4294967295.0);
		__u64 id = (__u64)Num(env, o, "minRuleId", field, 0, 4294967295.0);
		s.min_rank = prec << 32 | id;
		return s;
	}

	/* The half generation gen reads (as pcf_xdp's visible()), or -1: none. */
	static int VisibleHalf(const struct pcf_rule &r, __u64 gen)
	{
		__u64 g0 = __atomic_load_n(&r.half[0].gen, __ATOMIC_ACQUIRE);
		__u64 g1 = __atomic_load_n(&r.half[1].gen, __ATOMIC_ACQUIRE);
		if (g1 <= gen && (g0 > gen || g1 > g0))
			return 1;
		return g0 <= gen ? 0 : -1;
	}

	static bool LiveAt(const struct pcf_rule &r, __u64 gen)
	{
		int h = VisibleHalf(r, gen);
		return h >= 0 && r.half[h].body.live;
	}

	/* ---- commit ---- */

	struct Undo {
		std::vector<std::pair<__u64 *, __u64>> tags; /* a staged half's gen, and its old value */
		std::vector<std::pair<struct pcf_match_key, std::pair<bool, struct pcf_bucket>>> buckets;
		std::vector<std::pair<__u32, struct pcf_shape>> shapes;
	};

	void Restore(const Undo &u)
	{
		for (auto it = u.tags.rbegin(); it != u.tags.rend(); ++it)
			__atomic_store_n(it->first, it->second, __ATOMIC_RELEASE);
		for (auto it = u.buckets.rbegin(); it != u.buckets.rend(); ++it) {
			if (it->second.first)
				bpf_map_update_elem(match_.Fd(Env(), "commit"), &it->first, &it->second.second, BPF_ANY);
			else
				bpf_map_delete_elem(match_.Fd(Env(), "commit"), &it->first);
		}
		for (auto it = u.shapes.rbegin(); it != u.shapes.rend(); ++it)
			bpf_map_update_elem(shapes_.Fd(Env(), "commit"), &it->first, &it->second, BPF_ANY);
	}

	[[noreturn]] void Fail(Napi::Env env, const Undo &u, int err, const char *call,
			       const std::string &path)
	{
		Restore(u);
		ThrowSys(env, err, "commit", call, path);
	}

	/* commit({rules: [{slot, next}], buckets: [{key, slots}], shapes: [shape]}) -> the
	 * published generation. buckets gain the slots given (a union with what they hold);
	 * shapes is the whole table of the next generation, ascending min rank. */
	Napi::Value Commit(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		if (info.Length() < 1 || !info[0].IsObject())
			ThrowArg(env, "plan", "must be {rules, buckets, shapes}");
		Napi::Object plan = info[0].As<Napi::Object>();
		/* Parse everything before the first write. */
		std::vector<std::pair<__u32, struct pcf_rule_body>> rules;
		Buckets buckets;
		std::vector<struct pcf_shape> shapes;
		Napi::Value rv = plan.Get("rules"), bv = plan.Get("buckets"), sv = plan.Get("shapes");
		if (!rv.IsArray() || !bv.IsArray() || !sv.IsArray())
			ThrowArg(env, "plan", "rules, buckets and shapes must be arrays");
		Napi::Array ra = rv.As<Napi::Array>(), ba = bv.As<Napi::Array>(), sa = sv.As<Napi::Array>();
		for (uint32_t i = 0; i < ra.Length(); i++) {
			std::string f = "rules[" + std::to_string(i) + "]";
			Napi::Value e = ra.Get(i);
			if (!e.IsObject())
				ThrowArg(env, f, "must be {slot, next}");
			Napi::Object eo = e.As<Napi::Object>();
			__u32 slot = (__u32)Num(env, eo, "slot", f, 0, rules_.Info().max_entries - 1);
			rules.emplace_back(slot, Body(env, eo.Get("next"), f + ".next"));
		}
		buckets = BucketList(env, ba);
		if (sa.Length() > PCF_MAX_SHAPES)
			ThrowArg(env, "shapes", "more than " + std::to_string(PCF_MAX_SHAPES) + " shapes");
		for (uint32_t i = 0; i < sa.Length(); i++)
			shapes.push_back(Shape(env, sa.Get(i), "shapes[" + std::to_string(i) + "]"));

		struct pcf_ruleset rs = Read(env, "commit");
		__u64 next_gen = rs.gen + 1;
		__u32 parity = next_gen & 1;
		Undo u;
		Staging(next_gen);
		int mfd = match_.Fd(env, "commit"), sfd = shapes_.Fd(env, "commit");

		/* 1. Bodies: into the half the current generation does not read, tagged next_gen.
		 * The tag goes first: from then on no generation up to the current one picks it. */
		for (auto &[slot, body] : rules) {
			struct pcf_rule *r = &rule_mem_[slot];
			int h = VisibleHalf(*r, rs.gen) == 1 ? 0 : 1;
			struct pcf_rule_half *w = &r->half[h];
			u.tags.emplace_back(&w->gen, __atomic_load_n(&w->gen, __ATOMIC_ACQUIRE));
			__atomic_store_n(&w->gen, next_gen, __ATOMIC_RELEASE);
			std::atomic_thread_fence(std::memory_order_release);
			w->body = body;
		}
		/* 2. Buckets gain their new slots (old ones stay until cleanup). */
		for (auto &[key, slots] : buckets) {
			struct pcf_bucket old = {}, nb = {};
			bool had = bpf_map_lookup_elem(mfd, &key, &old) == 0;
			if (!had && errno != ENOENT)
				Fail(env, u, errno, "bpf_map_lookup_elem", match_.Path());
			if (had)
				nb = old;
			nb.n = std::min<__u32>(nb.n, PCF_BUCKET_SLOTS);
			for (__u32 s : slots) {
				if (std::find(nb.slot, nb.slot + nb.n, s) != nb.slot + nb.n)
					continue;
				if (nb.n == PCF_BUCKET_SLOTS)
					Fail(env, u, E2BIG, "bucket", match_.Path());
				nb.slot[nb.n++] = s;
			}
			u.buckets.push_back({key, {had, old}});
			if (bpf_map_update_elem(mfd, &key, &nb, BPF_ANY))
				Fail(env, u, errno, "bpf_map_update_elem", match_.Path());
		}
		/* 3. The shape table of the next generation, at the parity nobody reads. */
		for (__u32 i = 0; i < shapes.size(); i++) {
			__u32 idx = parity * PCF_MAX_SHAPES + i;
			struct pcf_shape old;
			if (bpf_map_lookup_elem(sfd, &idx, &old))
				Fail(env, u, errno, "bpf_map_lookup_elem", shapes_.Path());
			u.shapes.emplace_back(idx, old);
			if (bpf_map_update_elem(sfd, &idx, &shapes[i], BPF_ANY))
				Fail(env, u, errno, "bpf_map_update_elem", shapes_.Path());
		}
		/* 4. Publish: n_shapes of the next parity (nobody reads it), then gen; every store
		 * before it is visible to a packet that reads the new gen (release). */
		__atomic_store_n(&rs_mem_->n_shapes[parity], (__u32)shapes.size(), __ATOMIC_RELEASE);
		__atomic_store_n(&rs_mem_->gen, next_gen, __ATOMIC_RELEASE);
		return Napi::Number::New(env, (double)next_gen);
	}

	/* cleanup([{key, slots}]): after a commit, each bucket holds exactly these slots (empty:
	 * removed). What goes is what the published generation does not see. */
	Napi::Value Cleanup(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		if (info.Length() < 1 || !info[0].IsArray())
			ThrowArg(env, "buckets", "must be an array of {key, slots}");
		Buckets buckets = BucketList(env, info[0].As<Napi::Array>());
		int mfd = match_.Fd(env, "cleanup");
		Staging(Read(env, "cleanup").gen + 1);
		for (auto &[key, slots] : buckets) {
			if (slots.empty()) {
				if (bpf_map_delete_elem(mfd, &key) && errno != ENOENT)
					ThrowSys(env, errno, "cleanup", "bpf_map_delete_elem", match_.Path());
				continue;
			}
			struct pcf_bucket b = {};
			b.n = slots.size();
			std::copy(slots.begin(), slots.end(), b.slot);
			if (bpf_map_update_elem(mfd, &key, &b, BPF_ANY))
				ThrowSys(env, errno, "cleanup", "bpf_map_update_elem", match_.Path());
		}
		return env.Undefined();
	}

	static Napi::Value AddrJs(Napi::Env env, const __u32 a[4])
	{
		char buf[INET6_ADDRSTRLEN];
		bool v4 = !a[1] && !a[2] && !a[3];
		inet_ntop(v4 ? AF_INET : AF_INET6, a, buf, sizeof(buf));
		return Napi::String::New(env, buf);
	}

	/* Every bucket: [{key: {shape, proto, srcPort, dstPort, src, dst}, slots}] (addresses
	 * as the map holds them: an IPv6 address with only its first word set reads as IPv4). */
	Napi::Value ListBuckets(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		std::vector<uint8_t> keys, values;
		const char *call = nullptr;
		int err = DumpMap(match_.Fd(env, "listBuckets"), sizeof(struct pcf_match_key),
				  sizeof(struct pcf_bucket), match_.Info().max_entries, &keys, &values, &call);
		if (err)
			ThrowSys(env, err, "listBuckets", call, match_.Path());
		Napi::Array out = Napi::Array::New(env);
		for (uint32_t n = 0; n < keys.size() / sizeof(struct pcf_match_key); n++) {
			struct pcf_match_key k;
			struct pcf_bucket b;
			memcpy(&k, &keys[n * sizeof(k)], sizeof(k));
			memcpy(&b, &values[n * sizeof(b)], sizeof(b));
			Napi::Object key = Napi::Object::New(env);
			key.Set("shape", k.shape);
			key.Set("proto", k.proto);
			key.Set("srcPort", ntohs(k.src_port));
			key.Set("dstPort", ntohs(k.dst_port));
			key.Set("src", AddrJs(env, k.src));
			key.Set("dst", AddrJs(env, k.dst));
			Napi::Array slots = Napi::Array::New(env);
			for (__u32 i = 0; i < std::min<__u32>(b.n, PCF_BUCKET_SLOTS); i++)
				slots.Set(i, b.slot[i]);
			Napi::Object e = Napi::Object::New(env);
			e.Set("key", key);
			e.Set("slots", slots);
			out.Set(n, e);
		}
		return out;
	}

	/* Slots whose body the published generation sees as a live rule. */
	Napi::Value LiveSlots(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		struct pcf_ruleset rs = Read(env, "liveSlots");
		Napi::Array out = Napi::Array::New(env);
		uint32_t n = 0;
		for (__u32 slot = 0; slot < rules_.Info().max_entries; slot++)
			if (LiveAt(rule_mem_[slot], rs.gen))
				out.Set(n++, slot);
		return out;
	}

	static Napi::Object BodyJs(Napi::Env env, const struct pcf_rule_body &b)
	{
		Napi::Object o = Napi::Object::New(env);
		o.Set("live", b.live != 0);
		o.Set("precedence", Napi::Number::New(env, (double)(b.rank >> 32)));
		o.Set("ruleId", Napi::Number::New(env, (double)(b.rank & 0xffffffffu)));
		Napi::Array sp = Napi::Array::New(env, 2), dp = Napi::Array::New(env, 2);
		sp.Set(0u, b.src_port_lo);
		sp.Set(1u, b.src_port_hi);
		dp.Set(0u, b.dst_port_lo);
		dp.Set(1u, b.dst_port_hi);
		o.Set("srcPorts", sp);
		o.Set("dstPorts", dp);
		o.Set("action", b.live ? Napi::Value(FlowActionToJs(env, FlowNames(env), b.action, PCF_PIN_RULES))
				       : env.Null());
		return o;
	}

	/* The shape table of the published generation, in search order. */
	Napi::Value ReadShapes(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		struct pcf_ruleset rs = Read(env, "readShapes");
		__u32 parity = rs.gen & 1, n = std::min<__u32>(rs.n_shapes[parity], PCF_MAX_SHAPES);
		Napi::Array out = Napi::Array::New(env, n);
		for (__u32 i = 0; i < n; i++) {
			__u32 idx = parity * PCF_MAX_SHAPES + i;
			struct pcf_shape sh;
			if (bpf_map_lookup_elem(shapes_.Fd(env, "readShapes"), &idx, &sh))
				ThrowSys(env, errno, "readShapes", "bpf_map_lookup_elem", shapes_.Path());
			unsigned src = 0, dst = 0;
			for (int w = 0; w < 4; w++) {
				src += __builtin_popcount(sh.src_mask[w]);
				dst += __builtin_popcount(sh.dst_mask[w]);
			}
			Napi::Object o = Napi::Object::New(env);
			o.Set("id", sh.id);
			o.Set("family", sh.family);
			o.Set("flags", sh.flags);
			o.Set("srcLen", src);
			o.Set("dstLen", dst);
			o.Set("minPrecedence", Napi::Number::New(env, (double)(sh.min_rank >> 32)));
			o.Set("minRuleId", Napi::Number::New(env, (double)(sh.min_rank & 0xffffffffu)));
			out.Set(i, o);
		}
		return out;
	}

	/* readRule(slot) -> {gen, body} (tests, debugging): the version the published generation
	 * sees and the generation it was written for; null: none. */
	Napi::Value ReadRule(const Napi::CallbackInfo &info)
	{
		Napi::Env env = info.Env();
		if (info.Length() < 1 || !info[0].IsNumber())
			ThrowArg(env, "slot", "must be a number");
		__u32 slot = info[0].As<Napi::Number>().Uint32Value();
		if (slot >= rules_.Info().max_entries)
			ThrowArg(env, "slot", "beyond " PCF_PIN_RULES);
		struct pcf_ruleset rs = Read(env, "readRule");
		const struct pcf_rule &r = rule_mem_[slot];
		int h = VisibleHalf(r, rs.gen);
		if (h < 0)
			return env.Null();
		Napi::Object o = Napi::Object::New(env);
		o.Set("gen", Napi::Number::New(env, (double)r.half[h].gen));
		o.Set("body", BodyJs(env, r.half[h].body));
		return o;
	}
};

Napi::Function InitRuleSet(Napi::Env env)
{
	return RuleSet::Init(env);
}

} // namespace pcf
