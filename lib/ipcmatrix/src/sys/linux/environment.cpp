#include "ipcmatrix/sys/environment.hpp"

#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <thread>
#include <utility>

#include <boost/version.hpp>
#include <zstd.h>

#include "ipcmatrix/sys/affinity.hpp"
#include "ipcmatrix/sys/run_program.hpp"
#include "ipcmatrix/util/text.hpp"

// Version macros only; nothing from these libraries is called, so the library does not link
// them. Absent headers just make the version "unknown".
#if __has_include(<fmt/core.h>)
#include <fmt/core.h>
#endif
#if __has_include(<CLI/Version.hpp>)
#include <CLI/Version.hpp>
#endif

namespace ipcmatrix::sys {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::chrono::seconds kCommandTimeout{5};
constexpr std::size_t kMaxCommandOutput = 64 * 1024;

std::string trimmed(std::string_view s) { return std::string(trim(s)); }

std::optional<std::string> read_line(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  return trimmed(line);
}

std::optional<long long> read_integer(const fs::path& path) {
  const auto line = read_line(path);
  if (!line || line->empty()) return std::nullopt;
  try {
    return std::stoll(*line);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// "32K", "1024K", "8M" as found in /sys/.../cache/index*/size.
std::optional<std::uint64_t> parse_sys_size(const std::string& text) {
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text.front()))) return std::nullopt;
  std::size_t used = 0;
  std::uint64_t value = 0;
  try {
    value = std::stoull(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const std::string unit = text.substr(used);
  if (unit.empty()) return value;
  if (unit == "K") return value << 10;
  if (unit == "M") return value << 20;
  if (unit == "G") return value << 30;
  return std::nullopt;
}

// The value of the first "key : value" line in /proc/cpuinfo whose key is one of `keys`.
std::optional<std::string> cpuinfo_field(std::initializer_list<std::string_view> keys) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = trimmed(line.substr(0, colon));
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) return trimmed(line.substr(colon + 1));
  }
  return std::nullopt;
}

bool cpuinfo_has_flag(std::string_view flag) {
  const auto flags = cpuinfo_field({"flags", "Features"});
  if (!flags) return false;
  std::istringstream words(*flags);
  std::string word;
  while (words >> word) {
    if (word == flag) return true;
  }
  return false;
}

bool on_path(std::string_view program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::string_view rest(path);
  while (true) {
    const auto colon = rest.find(':');
    const std::string_view dir = rest.substr(0, colon);
    if (!dir.empty()) {
      const std::string candidate = std::string(dir) + "/" + std::string(program);
      if (::access(candidate.c_str(), X_OK) == 0) return true;
    }
    if (colon == std::string_view::npos) return false;
    rest.remove_prefix(colon + 1);
  }
}

// Runs a program (argv, no shell), bounded by kCommandTimeout, and returns its stdout when it
// exits 0. stderr is discarded: a missing driver or repository is not news.
std::optional<std::string> run_command(const std::vector<std::string>& argv) {
  ProgramOptions options;
  options.timeout = kCommandTimeout;
  options.capture_stdout = true;
  options.max_output_bytes = kMaxCommandOutput;
  try {
    ProgramResult result = run_program(argv, options);
    if (!result.ok()) return std::nullopt;
    return std::move(result.out);
  } catch (const std::exception&) {
    return std::nullopt;  // could not start it: as unknown as a failing one
  }
}

json string_or_unknown(const std::optional<std::string>& s) {
  if (s && !s->empty()) return *s;
  return kUnknown;
}

// A list like "0-3,8-11" (cpulist format) to the CPUs in it.
std::vector<int> parse_cpu_list(const std::string& text) {
  std::vector<int> cpus;
  std::istringstream in(text);
  std::string range;
  while (std::getline(in, range, ',')) {
    range = trimmed(range);
    if (range.empty()) continue;
    try {
      const auto dash = range.find('-');
      const int first = std::stoi(range.substr(0, dash));
      const int last = dash == std::string::npos ? first : std::stoi(range.substr(dash + 1));
      for (int c = first; c <= last; ++c) cpus.push_back(c);
    } catch (const std::exception&) {
      return {};
    }
  }
  return cpus;
}

void add_topology(json& env) {
  env["sockets"] = nullptr;
  env["cores"] = nullptr;
  env["threads_per_core"] = nullptr;
  env["topology"] = kUnknown;
  const fs::path base = "/sys/devices/system/cpu";
  const auto online = read_line(base / "online");
  if (!online) return;
  std::set<long long> packages;
  std::set<std::pair<long long, long long>> cores;
  int logical = 0;
  for (const int cpu : parse_cpu_list(*online)) {
    const fs::path topo = base / ("cpu" + std::to_string(cpu)) / "topology";
    const auto package = read_integer(topo / "physical_package_id");
    const auto core = read_integer(topo / "core_id");
    if (!package || !core) return;  // a partial picture would mislead more than none
    packages.insert(*package);
    cores.insert({*package, *core});
    ++logical;
  }
  if (logical == 0 || cores.empty()) return;
  const auto n_sockets = static_cast<int>(packages.size());
  const auto n_cores = static_cast<int>(cores.size());
  const int threads = logical / n_cores;
  env["sockets"] = n_sockets;
  env["cores"] = n_cores;
  env["threads_per_core"] = threads;
  const auto plural = [](int n, std::string_view word) {
    return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
  };
  env["topology"] = plural(n_sockets, "socket") + " x " + plural(n_cores / n_sockets, "core") +
                    " x " + plural(threads, "thread");
}

json caches() {
  json out = json::object();
  const fs::path base = "/sys/devices/system/cpu/cpu0/cache";
  std::error_code ec;
  fs::directory_iterator it(base, ec);
  if (ec) return nullptr;
  for (const auto& entry : it) {
    if (entry.path().filename().string().rfind("index", 0) != 0) continue;
    const auto level = read_line(entry.path() / "level");
    const auto type = read_line(entry.path() / "type");
    const auto size = read_line(entry.path() / "size");
    if (!level || !type || !size) continue;
    const auto bytes = parse_sys_size(*size);
    if (!bytes) continue;
    std::string name = "L" + *level;
    if (*type == "Data") name += "d";
    if (*type == "Instruction") name += "i";
    out[name] = *bytes;
  }
  if (out.empty()) return nullptr;
  return out;
}

json virtualization() {
  const bool flag = cpuinfo_has_flag("hypervisor");
  const auto vendor = read_line("/sys/class/dmi/id/sys_vendor");
  const auto product = read_line("/sys/class/dmi/id/product_name");
  // The cpuinfo flag is x86-only; on other architectures DMI strings are the hint we have.
  static constexpr std::string_view kVirtualMarkers[] = {
      "qemu", "kvm", "vmware", "virtualbox", "xen", "bochs", "virtual machine", "hvm domu",
      "amazon ec2", "google compute engine", "openstack", "parallels", "cloud hypervisor",
  };
  bool dmi_virtual = false;
  for (const auto* s : {&vendor, &product}) {
    if (!*s) continue;
    std::string lower = **s;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const auto marker : kVirtualMarkers) {
      if (lower.find(marker) != std::string::npos) dmi_virtual = true;
    }
  }
  const bool known = flag || vendor || product;
  return json{
      {"virtual", known ? json(flag || dmi_virtual) : json(nullptr)},
      {"hypervisor_flag", flag},
      {"sys_vendor", vendor ? json(*vendor) : json(nullptr)},
      {"product_name", product ? json(*product) : json(nullptr)},
  };
}

json gpu() {
  if (!on_path("nvidia-smi")) return nullptr;
  const auto out = run_command({"nvidia-smi", "--query-gpu=name,utilization.gpu,memory.used,memory.total",
                                "--format=csv,noheader,nounits"});
  if (!out) return nullptr;
  json gpus = json::array();
  std::istringstream lines(*out);
  std::string line;
  while (std::getline(lines, line)) {
    std::vector<std::string> fields;
    std::istringstream cols(line);
    std::string col;
    while (std::getline(cols, col, ',')) fields.push_back(trimmed(col));
    if (fields.size() != 4) continue;
    const auto number = [](const std::string& s) -> json {
      try {
        return std::stod(s);
      } catch (const std::exception&) {
        return nullptr;  // "[N/A]" on some boards
      }
    };
    gpus.push_back({{"name", fields[0]},
                    {"utilization_percent", number(fields[1])},
                    {"memory_used_mib", number(fields[2])},
                    {"memory_total_mib", number(fields[3])}});
  }
  if (gpus.empty()) return nullptr;
  return gpus;
}

std::string git_revision() {
#ifdef IPCMATRIX_GIT_REVISION
  if (std::string_view(IPCMATRIX_GIT_REVISION).size() > 0) return IPCMATRIX_GIT_REVISION;
#endif
#ifdef IPCMATRIX_SOURCE_DIR
  std::error_code ec;
  if (on_path("git") && fs::is_directory(IPCMATRIX_SOURCE_DIR, ec)) {
    if (auto out = run_command({"git", "-C", IPCMATRIX_SOURCE_DIR, "rev-parse", "--short", "HEAD"})) {
      std::string rev = trimmed(*out);
      if (!rev.empty()) return rev;
    }
  }
#endif
  return std::string(kUnknown);
}

std::string compiler() {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "gcc " __VERSION__;
#else
  return __VERSION__;
#endif
}

std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  if (::gmtime_r(&now, &tm) == nullptr) return std::string(kUnknown);
  char buf[32];
  if (std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) return std::string(kUnknown);
  return buf;
}

// Jiffies of the given CPUs from /proc/stat (all of them, from its "cpu " line, when `cpus`
// is empty): busy (user, nice, system, irq, softirq, steal) and in all (busy, idle, iowait).
struct Jiffies {
  std::uint64_t busy = 0, total = 0;
};
std::optional<Jiffies> cpu_jiffies(const std::vector<int>& cpus) {
  std::ifstream in("/proc/stat");
  if (!in) return std::nullopt;
  const std::set<int> wanted(cpus.begin(), cpus.end());
  Jiffies j;
  bool any = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("cpu", 0) != 0) continue;
    std::istringstream fields(line);
    std::string name;
    fields >> name;
    const bool all = name == "cpu";
    if (all != wanted.empty()) continue;
    if (!all) {
      int n = -1;
      if (std::sscanf(name.c_str(), "cpu%d", &n) != 1 || wanted.count(n) == 0) continue;
    }
    std::uint64_t v[8] = {};
    for (auto& x : v) fields >> x;
    if (!fields) return std::nullopt;
    const std::uint64_t busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    j.busy += busy;
    j.total += busy + v[3] + v[4];
    any = true;
  }
  return any ? std::optional<Jiffies>(j) : std::nullopt;
}

// How many of the run's CPUs other processes kept busy over kBusySample, just before the
// run (this process sleeps through it, and has no children yet). The 1-minute load average
// is a trailing figure: after the build that `tools/quickstart.sh` runs first it stood at
// 1.4-2.0 on this 2-core VM, and every quick run warned of a busy machine that was idle.
constexpr std::chrono::milliseconds kBusySample{100};
json busy_cpus(const std::vector<int>& cpus) {
  const auto a = cpu_jiffies(cpus);
  std::this_thread::sleep_for(kBusySample);
  const auto b = cpu_jiffies(cpus);
  if (!a || !b || b->total <= a->total || b->busy < a->busy) return nullptr;
  const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  const double n = cpus.empty() ? static_cast<double>(online) : static_cast<double>(cpus.size());
  if (!(n > 0)) return nullptr;
  const double share = static_cast<double>(b->busy - a->busy) / static_cast<double>(b->total - a->total);
  return std::round(share * n * 100) / 100;
}

// Each fact is captured on its own so one unreadable file or odd format costs only that key.
void fact(json& env, const char* key, json fallback, const std::function<json()>& read) {
  try {
    env[key] = read();
  } catch (const std::bad_alloc&) {
    throw;
  } catch (...) {
    env[key] = std::move(fallback);
  }
}

}  // namespace

std::string executable_path() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : p.string();
}

nlohmann::json capture_environment() {
  json env = json::object();
  fact(env, "hostname", kUnknown, [] {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return json(kUnknown);
    return json(std::string(buf));
  });
  utsname uts{};
  const bool have_uts = ::uname(&uts) == 0;
  fact(env, "kernel", kUnknown, [&] {
    return have_uts ? json(std::string(uts.sysname) + " " + uts.release) : json(kUnknown);
  });
  fact(env, "kernel_version", kUnknown, [&] { return have_uts ? json(uts.version) : json(kUnknown); });
  fact(env, "arch", kUnknown, [&] { return have_uts ? json(uts.machine) : json(kUnknown); });
  fact(env, "cpu_model", kUnknown, [] {
    // x86 says "model name"; arm64 kernels may only give "Hardware" or "CPU part".
    return string_or_unknown(cpuinfo_field({"model name", "Model", "Hardware", "cpu model", "CPU part"}));
  });
  fact(env, "logical_cpus", nullptr, [] {
    const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? json(n) : json(nullptr);
  });
  fact(env, "allowed_cpus", nullptr, [] { return json(allowed_cpus()); });
  fact(env, "allowed_cpu_count", nullptr, [&] {
    return env["allowed_cpus"].is_array() ? json(env["allowed_cpus"].size()) : json(nullptr);
  });
  try {
    add_topology(env);
  } catch (const std::bad_alloc&) {
    throw;
  } catch (...) {
    // add_topology sets its keys to unknown before reading anything.
  }
  fact(env, "caches", nullptr, caches);
  fact(env, "virtualization", nullptr, virtualization);
  fact(env, "clock_source", kUnknown, [] {
    return string_or_unknown(read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource"));
  });
  fact(env, "cpu_governor", kUnavailable, [] {
    const auto g = read_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor");
    return g && !g->empty() ? json(*g) : json(kUnavailable);
  });
  fact(env, "memory_total_bytes", nullptr, [] {
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page = ::sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return json(nullptr);
    return json(static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page));
  });
  struct statvfs shm {};
  const bool have_shm = ::statvfs("/dev/shm", &shm) == 0;
  fact(env, "dev_shm_bytes", nullptr, [&] {
    return have_shm ? json(static_cast<std::uint64_t>(shm.f_blocks) * shm.f_frsize) : json(nullptr);
  });
  fact(env, "dev_shm_free_bytes", nullptr, [&] {
    return have_shm ? json(static_cast<std::uint64_t>(shm.f_bavail) * shm.f_frsize) : json(nullptr);
  });
  fact(env, "load_average", nullptr, [] {
    double load[3] = {};
    if (::getloadavg(load, 3) != 3) return json(nullptr);
    // The kernel's fixed-point averages print as 1.9912109375; two decimals are all they mean.
    const auto round2 = [](double v) { return std::round(v * 100) / 100; };
    return json{round2(load[0]), round2(load[1]), round2(load[2])};
  });
  fact(env, "busy_cpus", nullptr, [&] {
    return busy_cpus(env["allowed_cpus"].is_array() ? env["allowed_cpus"].get<std::vector<int>>() : std::vector<int>{});
  });
  fact(env, "compiler", kUnknown, [] { return json(compiler()); });
  fact(env, "build_type", kUnknown, [] {
#ifdef IPCMATRIX_BUILD_TYPE
    return json(IPCMATRIX_BUILD_TYPE);
#else
    return json(kUnknown);
#endif
  });
  fact(env, "compile_flags", kUnknown, [] {
#ifdef IPCMATRIX_CXX_FLAGS
    return json(IPCMATRIX_CXX_FLAGS);
#else
    return json(kUnknown);
#endif
  });
  fact(env, "libraries", nullptr, [] {
    json libs = json::object();
    libs["boost"] = BOOST_LIB_VERSION;
    libs["nlohmann_json"] = std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." +
                            std::to_string(NLOHMANN_JSON_VERSION_MINOR) + "." +
                            std::to_string(NLOHMANN_JSON_VERSION_PATCH);
    libs["zstd"] = ZSTD_versionString();
#ifdef FMT_VERSION
    libs["fmt"] = std::to_string(FMT_VERSION / 10000) + "." + std::to_string(FMT_VERSION / 100 % 100) + "." +
                  std::to_string(FMT_VERSION % 100);
#else
    libs["fmt"] = kUnknown;
#endif
#ifdef CLI11_VERSION
    libs["cli11"] = CLI11_VERSION;
#else
    libs["cli11"] = kUnknown;
#endif
    return libs;
  });
  fact(env, "git_revision", kUnknown, [] { return json(git_revision()); });
  fact(env, "gpu", nullptr, gpu);
  fact(env, "captured_at_utc", kUnknown, [] { return json(utc_now()); });
  return env;
}

}  // namespace ipcmatrix::sys
