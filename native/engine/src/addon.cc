// Node-API glue of the native engine: picks the kernel table for this CPU at run time and runs a
// row kernel on a pool of std::threads over memory JavaScript owns (a resizable ArrayBuffer whose
// address never moves). Written against the C Node-API (node_api.h ships with Node's headers),
// so the build needs no npm package besides node-gyp.
#include <node_api.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "table.h"

int bluProfiling = 0;
uint64_t bluProfileNs[STAGE_COUNT] = {0};
uint64_t bluNowNs() {
  timespec ts;
  // Thread CPU time: on a shared machine a descheduled thread's wait is not the kernel's cost.
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

namespace {

// ---- which kernels this CPU runs ----

bool cpuHas(const char* isa) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (std::string(isa) == "avx512")
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vpopcntdq");
  if (std::string(isa) == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("popcnt");
#endif
  return std::string(isa) == "portable";
}

const KernelTable* tableFor(const std::string& isa) {
  if (isa == "avx512" && cpuHas("avx512")) return &blu_avx512::table;
  if (isa == "avx2" && cpuHas("avx2")) return &blu_avx2::table;
  if (isa == "portable") return &blu_portable::table;
  return nullptr;
}

const char* bestIsa() { return cpuHas("avx512") ? "avx512" : cpuHas("avx2") ? "avx2" : "portable"; }

// ---- the thread pool: the caller is thread 0, workers 1… wait for a generation number ----

class Pool {
 public:
  explicit Pool(int threads) : threads_(threads), results_(threads) {
    for (int t = 1; t < threads; t++) workers_.emplace_back([this, t] { work(t); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }

  /** Runs `kernel` on every thread with its own `nargs` arguments; returns the sum of the results. */
  int run(RowKernel kernel, uint8_t* base, const double* args, int nargs) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      kernel_ = kernel;
      base_ = base;
      args_ = args;
      nargs_ = nargs;
      pending_ = threads_ - 1;
      generation_++;
    }
    wake_.notify_all();
    int total = kernel(base, args);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    for (int t = 1; t < threads_; t++) total += results_[t];
    return total;
  }

  int threads() const { return threads_; }

 private:
  void work(int t) {
    uint64_t seen = 0;
    for (;;) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      RowKernel kernel = kernel_;
      uint8_t* base = base_;
      const double* args = args_ + (size_t)t * nargs_;
      lock.unlock();
      const int result = kernel(base, args);
      lock.lock();
      results_[t] = result;
      if (--pending_ == 0) done_.notify_one();
    }
  }

  const int threads_;
  std::vector<int> results_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  bool stop_ = false;
  uint64_t generation_ = 0;
  int pending_ = 0;
  RowKernel kernel_ = nullptr;
  uint8_t* base_ = nullptr;
  const double* args_ = nullptr;
  int nargs_ = 0;
};

struct Engine {
  const KernelTable* table;
  Pool* pool;
};

// ---- Node-API helpers ----

napi_value fail(napi_env env, const char* message) {
  napi_throw_error(env, nullptr, message);
  return nullptr;
}

bool getArgs(napi_env env, napi_callback_info info, size_t expected, napi_value* argv) {
  size_t argc = expected;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < expected) {
    fail(env, "native engine: wrong number of arguments");
    return false;
  }
  return true;
}

napi_value string(napi_env env, const char* s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

napi_value number(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

void finalizeEngine(napi_env, void* data, void*) {
  Engine* e = static_cast<Engine*>(data);
  delete e->pool;
  delete e;
}

/** create(isa: string, threads: number) → engine handle; throws if this CPU cannot run `isa`. */
napi_value Create(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!getArgs(env, info, 2, argv)) return nullptr;
  char isa[32] = {0};
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], isa, sizeof isa, &len) != napi_ok) return fail(env, "native engine: isa must be a string");
  int32_t threads = 1;
  napi_get_value_int32(env, argv[1], &threads);
  const KernelTable* table = tableFor(std::string(isa) == "auto" ? bestIsa() : isa);
  if (!table || !table->name) return fail(env, "native engine: this CPU cannot run the requested instruction set");
  Engine* e = new Engine{table, new Pool(threads < 1 ? 1 : threads)};
  napi_value handle;
  napi_create_external(env, e, finalizeEngine, nullptr, &handle);
  return handle;
}

bool unwrap(napi_env env, napi_value v, Engine** e) {
  if (napi_get_value_external(env, v, reinterpret_cast<void**>(e)) != napi_ok || !*e) {
    fail(env, "native engine: not an engine handle");
    return false;
  }
  return true;
}

/** describe(handle) → { name, panelStrip, threads }. */
napi_value Describe(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Engine* e;
  if (!getArgs(env, info, 1, argv) || !unwrap(env, argv[0], &e)) return nullptr;
  napi_value out;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "name", string(env, e->table->name));
  napi_set_named_property(env, out, "panelStrip", number(env, e->table->panelStrip));
  napi_set_named_property(env, out, "threads", number(env, e->pool->threads()));
  return out;
}

/**
 * run(handle, memory: ArrayBuffer, kernel: number, args: Float64Array, perThread: boolean) → number.
 * perThread: args holds threads × n arguments and every pool thread runs; else one call here.
 */
napi_value Run(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  Engine* e;
  if (!getArgs(env, info, 5, argv) || !unwrap(env, argv[0], &e)) return nullptr;
  void* base = nullptr;
  size_t bytes = 0;
  if (napi_get_arraybuffer_info(env, argv[1], &base, &bytes) != napi_ok) return fail(env, "native engine: memory must be an ArrayBuffer");
  int32_t id = -1;
  napi_get_value_int32(env, argv[2], &id);
  if (id < 0 || id >= KERNEL_COUNT) return fail(env, "native engine: unknown kernel");
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, argv[3], &type, &length, &data, nullptr, nullptr) != napi_ok || type != napi_float64_array)
    return fail(env, "native engine: arguments must be a Float64Array");
  bool perThread = false;
  napi_get_value_bool(env, argv[4], &perThread);
  const double* args = static_cast<const double*>(data);
  RowKernel kernel = e->table->kernels[id];
  const int threads = e->pool->threads();
  if (!perThread) return number(env, kernel(static_cast<uint8_t*>(base), args));
  if (length % threads != 0) return fail(env, "native engine: arguments are not a whole number per thread");
  return number(env, e->pool->run(kernel, static_cast<uint8_t*>(base), args, (int)(length / threads)));
}

/** profile(on: boolean) → thread-CPU nanoseconds per stage since the last call (summed over threads); resets them. */
napi_value Profile(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!getArgs(env, info, 1, argv)) return nullptr;
  bool on = false;
  napi_get_value_bool(env, argv[0], &on);
  static const char* names[STAGE_COUNT] = {"first", "xnor", "decode", "depthwise", "gemm", "binarise", "pool"};
  napi_value out;
  napi_create_object(env, &out);
  for (int s = 0; s < STAGE_COUNT; s++) napi_set_named_property(env, out, names[s], number(env, (double)__atomic_exchange_n(&bluProfileNs[s], 0, __ATOMIC_RELAXED)));
  bluProfiling = on ? 1 : 0;
  return out;
}

/** cpu() → { best, avx512, avx2 }: what this CPU can run. */
napi_value Cpu(napi_env env, napi_callback_info) {
  napi_value out, yes, no;
  napi_create_object(env, &out);
  napi_get_boolean(env, true, &yes);
  napi_get_boolean(env, false, &no);
  napi_set_named_property(env, out, "best", string(env, bestIsa()));
  napi_set_named_property(env, out, "avx512", cpuHas("avx512") ? yes : no);
  napi_set_named_property(env, out, "avx2", cpuHas("avx2") ? yes : no);
  return out;
}

}  // namespace

NAPI_MODULE_INIT() {
  const napi_property_descriptor props[] = {
      {"create", nullptr, Create, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"describe", nullptr, Describe, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"run", nullptr, Run, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"profile", nullptr, Profile, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"cpu", nullptr, Cpu, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
