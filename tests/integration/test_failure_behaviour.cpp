// Failure behaviour through the real binary: runs side by side, cleanup of dead runs only,
// signals, output destinations, hostile input files, resources checked up front and
// mechanisms that fail closed. README "Failure behaviour" promises what these tests hold.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/interprocess/shared_memory_object.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/sys/ipc_names.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"
#include "ipcmatrix/transport/transport.hpp"
#include "support/test_support.hpp"
#include "support/tool_runner.hpp"

using namespace ipcmatrix;
using test::run_tool;
using test::slurp;
using test::TempDir;
using test::ToolProcess;
namespace fs = std::filesystem;

namespace {

/// A small matrix of named mechanisms: every one creates an object in /dev/shm, the mqueue
/// namespace or $TMPDIR.
std::vector<std::string> small_named_matrix(const std::string& json) {
  return {"--sizes",       "64",  "--patterns", "pingpong,stream", "--mechanisms", "shm,unix,bipc-mq,posix-mq",
          "--serializers", "raw", "--messages", "2000",            "--json",        json,
          "--quiet"};
}

/// A run long enough to be interrupted mid-way: 18 cells of 400 ms each (about 10 s alone),
/// over mechanisms of every kind of object: inherited fds (pipe, unix-dgram with its liveness
/// pipe, memfd's pooled buffers), a socket directory (unix), a segment (shm) and a queue with
/// its segment (posix-mq).
constexpr std::size_t kLongCells = 18;
std::vector<std::string> long_matrix(const TempDir& dir) {
  return {"--sizes",    "64",
          "--patterns", "stream",
          "--mechanisms", "pipe,unix,shm,posix-mq,unix-dgram,memfd",
          "--serializers", "raw,binary,json",
          "--duration", "400ms",
          "--json", (dir.path / "r.json").string(),
          "--out", (dir.path / "out").string(),
          "--quiet"};
}

bool exists_no_follow(const fs::path& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

/// Worker processes whose parent is `ppid` (from /proc/*/cmdline and stat).
std::vector<int> children_of(int ppid) {
  std::vector<int> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    // Workers only (re-executed with the worker flag, or forked by the zygote, whose flag
    // they carry), not the floor's short forks.
    if (slurp(e.path() / "cmdline").find("--ipcmatrix-") == std::string::npos) continue;
    const std::string stat = slurp(e.path() / "stat");
    const auto paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    char state = 0;
    int parent = 0;
    if (std::sscanf(stat.c_str() + paren + 1, " %c %d", &state, &parent) == 2 && parent == ppid)
      out.push_back(std::stoi(name));
  }
  return out;
}

/// True while `sig` is pending for the whole process `pid` (ShdPnd in /proc/<pid>/status).
bool shared_pending(int pid, int sig) {
  std::istringstream status(slurp("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("ShdPnd:", 0) != 0) continue;
    const unsigned long long mask = std::stoull(line.substr(7), nullptr, 16);
    return (mask >> (sig - 1)) & 1u;
  }
  return false;
}

/// True when pid no longer runs (gone, or a zombie nobody reaped yet).
bool not_running(int pid) {
  const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return true;
  const auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

/// A name of this tool's shape whose owner is a process that no longer exists.
std::string dead_owner_name() {
  auto child = sys::fork_child([] { return 0; });
  const int pid = child.pid();
  child.wait_for(std::chrono::milliseconds(10'000));
  return std::string(sys::kNamePrefix) + "0badc0de-" + std::to_string(pid) + "-1-" + sys::random_id().substr(0, 8);
}

void touch(const fs::path& p) { std::ofstream(p) << "x"; }

nlohmann::json json_of(const fs::path& p) { return nlohmann::json::parse(slurp(p)); }

}  // namespace

TEST_SUITE("failure behaviour") {

TEST_CASE("isolation: two runs side by side both pass, each checking only its own objects") {
  TempDir dir;
  ToolProcess a(small_named_matrix((dir.path / "a.json").string()), dir, {}, "a");
  ToolProcess b(small_named_matrix((dir.path / "b.json").string()), dir, {}, "b");
  const auto ra = a.wait();
  const auto rb = b.wait();
  CHECK_MESSAGE(ra.code == 0, ra.err);
  CHECK_MESSAGE(rb.code == 0, rb.err);
  CHECK(sys::ipc_names_of(ra.pid).empty());
  CHECK(sys::ipc_names_of(rb.pid).empty());
  for (const auto* f : {"a.json", "b.json"}) {
    const auto j = json_of(dir.path / f);
    CHECK(j.at("cells").size() == 8);
    for (const auto& c : j.at("cells")) CHECK_MESSAGE(c.at("status") == "ok", c.dump());
  }
}

TEST_CASE("cleanup: removes only dead runs' objects of our shape, says why, and --dry-run removes nothing") {
  TempDir dir;
  const fs::path tmp = dir.path / "tmp";
  fs::create_directories(tmp);
  const fs::path shm_dead = fs::path("/dev/shm") / dead_owner_name();
  const fs::path shm_live = fs::path("/dev/shm") / sys::unique_ipc_name();  // this test process: alive
  const fs::path shm_foreign = fs::path("/dev/shm") / ("ipcm-foreign-" + sys::random_id());
  const fs::path dir_dead = tmp / dead_owner_name();
  const fs::path dir_dead_not_ours = tmp / dead_owner_name();
  for (const auto& p : {shm_dead, shm_live, shm_foreign}) touch(p);
  fs::create_directories(dir_dead);
  fs::create_directories(dir_dead_not_ours);
  touch(dir_dead_not_ours / "precious");
  const test::Env env = {{"TMPDIR", tmp.string()}};

  const auto dry = run_tool({"cleanup", "--dry-run"}, dir, env);
  CHECK(dry.code == 0);
  for (const auto& p : {shm_dead, shm_live, shm_foreign, dir_dead, dir_dead_not_ours}) CHECK(exists_no_follow(p));
  CHECK(dry.out.find(shm_dead.string() + ": would remove") != std::string::npos);
  CHECK(dry.out.find(shm_live.string() + ": left alone: its run") != std::string::npos);

  const auto real = run_tool({"cleanup"}, dir, env);
  CHECK(real.code == 0);
  CHECK(!exists_no_follow(shm_dead));
  CHECK(!exists_no_follow(dir_dead));
  CHECK(exists_no_follow(shm_live));
  CHECK(exists_no_follow(shm_foreign));
  CHECK(exists_no_follow(dir_dead_not_ours / "precious"));
  CHECK(real.out.find(shm_foreign.string() + ": left alone") != std::string::npos);
  CHECK(real.out.find("precious") != std::string::npos);
  for (const auto& p : {shm_live, shm_foreign}) fs::remove(p);
}

TEST_CASE("interrupt: SIGINT, SIGTERM and SIGHUP end the run in order with partial results") {
  for (const auto& [sig, code, name] : {std::tuple{SIGINT, 130, "SIGINT"}, std::tuple{SIGTERM, 143, "SIGTERM"},
                                        std::tuple{SIGHUP, 129, "SIGHUP"}}) {
    CAPTURE(name);
    TempDir dir;
    ToolProcess p(long_matrix(dir), dir);
    // Long enough for the floor and the first cells, well short of the whole run.
    std::this_thread::sleep_for(std::chrono::milliseconds(3500));
    p.signal(sig);
    const auto r = p.wait(std::chrono::milliseconds(60'000));
    CHECK_MESSAGE(r.code == code, r.err);
    const auto j = json_of(dir.path / "r.json");
    CHECK(j.at("complete") == false);
    CHECK(j.at("interrupted_by") == name);
    CHECK(j.at("cells").size() < kLongCells);
    CHECK(j.at("cells").size() >= 1);
    for (const auto& c : j.at("cells")) CHECK(c.at("status") == "ok");
    CHECK(fs::exists(dir.path / "out" / "PERFORMANCE_REPORT.md"));
    CHECK(json_of(dir.path / "out" / "results.json").at("complete") == false);
    CHECK(sys::ipc_names_of(r.pid).empty());
  }
}

TEST_CASE("interrupt: a signal during set-up leaves no object behind") {
  for (const int delay_ms : {0, 5, 20, 60, 150, 400}) {
    CAPTURE(delay_ms);
    TempDir dir;
    ToolProcess p(long_matrix(dir), dir);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    p.signal(SIGINT);
    const auto r = p.wait(std::chrono::milliseconds(60'000));
    // Before the watch is installed SIGINT kills by its default action: 128 + 2 as well.
    CHECK(r.code == 130);
    CHECK(sys::ipc_names_of(r.pid).empty());
  }
}

TEST_CASE("interrupt: a second signal aborts at once and still removes the run's objects") {
  TempDir dir;
  ToolProcess p(long_matrix(dir), dir);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  // Two different signals (two of the same could merge into one pending signal), the second
  // sent only once the first was taken: pending signals are taken lowest number first, so
  // both pending at once would make SIGINT the first and SIGTERM the aborting one.
  p.signal(SIGTERM);
  for (int i = 0; i < 500 && shared_pending(p.pid(), SIGTERM); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  p.signal(SIGINT);
  const auto r = p.wait(std::chrono::milliseconds(20'000));
  CHECK(r.code == 130);  // the second signal's code: the abort path, not the orderly one (143)
  // The abort writes nothing more; whatever the orderly path had written by then says it is
  // incomplete.
  if (fs::exists(dir.path / "r.json")) CHECK(json_of(dir.path / "r.json").at("complete") == false);
  CHECK(sys::ipc_names_of(r.pid).empty());
}

TEST_CASE("a SIGKILLed runner's workers exit through the parent-death signal, cleanup removes its objects") {
  TempDir dir;
  ToolProcess p(long_matrix(dir), dir);
  std::vector<int> workers;
  for (int i = 0; i < 200 && workers.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    workers = children_of(p.pid());
  }
  REQUIRE_MESSAGE(!workers.empty(), "no worker seen in 5 s");
  p.signal(SIGKILL);
  const auto r = p.wait(std::chrono::milliseconds(20'000));
  CHECK(r.code == 128 + SIGKILL);
  for (const int w : workers) {
    CAPTURE(w);
    bool gone = false;
    for (int i = 0; i < 500 && !gone; ++i) {
      gone = not_running(w);
      if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(gone);
  }
  // Whatever the killed run had open is now an orphan: cleanup removes exactly that.
  const auto c = run_tool({"cleanup"}, dir);
  CHECK(c.code == 0);
  CHECK(sys::ipc_names_of(r.pid).empty());
}

TEST_CASE("outputs: unusable destinations are refused before anything is spawned") {
  TempDir dir;
  const fs::path log = dir.path / "spawn.log";
  const fs::path dangling = dir.path / "dangling";
  fs::create_symlink(dir.path / "no-such-target", dangling);
  const fs::path a_dir = dir.path / "a-dir";
  fs::create_directories(a_dir);
  const std::vector<std::vector<std::string>> cases = {
      {"--out", "/proc/ipc-matrix-test/x"},
      {"--json", dangling.string()},
      {"--json", (dir.path / "missing-dir" / "r.json").string()},
      {"--json", a_dir.string()},
      {"--json", "a.json", "--json", "b.json"},
  };
  for (const auto& extra : cases) {
    CAPTURE(extra.back());
    std::vector<std::string> args = {"--sizes", "64", "--patterns", "pingpong", "--mechanisms", "pipe"};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = run_tool(args, dir, {{"IPCMATRIX_SPAWN_LOG", log.string()}});
    CHECK_MESSAGE(r.code == 2, r.err);
    CHECK(!fs::exists(log));
  }
  CHECK(fs::is_symlink(dangling));
}

TEST_CASE("outputs: FIFOs and devices are written as streams and never replaced, write errors fail the run") {
  TempDir dir;
  const std::vector<std::string> tiny = {"--sizes", "64", "--patterns", "pingpong", "--mechanisms", "pipe",
                                         "--serializers", "raw", "--messages", "200", "--quiet"};
  SUBCASE("a FIFO receives the JSON and stays a FIFO") {
    const fs::path fifo = dir.path / "fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    std::string got;
    std::thread reader([&] { got = slurp(fifo); });
    auto args = tiny;
    args.insert(args.end(), {"--json", fifo.string()});
    const auto r = run_tool(args, dir);
    // Unblocks the reader if the tool never opened the FIFO.
    if (const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK); fd >= 0) ::close(fd);
    reader.join();
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(fs::is_fifo(fifo));
    CHECK(nlohmann::json::parse(got).at("cells").size() == 1);
  }
  SUBCASE("/dev/full: the write error is an error, and the device is still a device") {
    auto args = tiny;
    args.insert(args.end(), {"--json", "/dev/full"});
    const auto r = run_tool(args, dir);
    CHECK(r.code == 1);
    CHECK(r.err.find("/dev/full") != std::string::npos);
    CHECK(fs::is_character_file("/dev/full"));
  }
  SUBCASE("a symlink to a regular file keeps the link and replaces the file") {
    const fs::path target = dir.path / "target.json", link = dir.path / "link.json";
    touch(target);
    fs::create_symlink(target, link);
    auto args = tiny;
    args.insert(args.end(), {"--json", link.string()});
    const auto r = run_tool(args, dir);
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(fs::is_symlink(link));
    CHECK(json_of(target).at("cells").size() == 1);
  }
  SUBCASE("a symlink among the files the tool names inside --out is refused; its target is untouched") {
    const fs::path out = dir.path / "out", victim = dir.path / "victim.txt";
    fs::create_directories(out);
    std::ofstream(victim) << "keep me";
    fs::create_symlink(victim, out / "PERFORMANCE_REPORT.md");
    auto args = tiny;
    args.insert(args.end(), {"--out", out.string()});
    const auto r = run_tool(args, dir);
    CHECK(r.code == 1);
    CHECK(r.err.find("symbolic link") != std::string::npos);
    CHECK(slurp(victim) == "keep me");
  }
  SUBCASE("a report file that cannot be written fails the run with its name") {
    const fs::path out = dir.path / "out";
    fs::create_directories(out / "PERFORMANCE_REPORT.md");  // a directory where the file goes
    auto args = tiny;
    args.insert(args.end(), {"--out", out.string()});
    const auto r = run_tool(args, dir);
    CHECK(r.code == 1);
    CHECK(r.err.find("PERFORMANCE_REPORT.md") != std::string::npos);
  }
}

TEST_CASE("hostile files: deep, huge, malformed and control characters give exit 2 naming the file") {
  TempDir dir;
  const fs::path deep = dir.path / "deep.json";
  std::ofstream(deep) << std::string(100'000, '[') << std::string(100'000, ']');
  const fs::path huge = dir.path / "huge.json";
  {
    std::ofstream f(huge);
    f << "{\"sizes\": \"64\" " << std::string(2u << 20, ' ') << "}";
  }
  const fs::path ctrl = dir.path / "ctrl.json";
  std::ofstream(ctrl) << "{\"\\u001b[31mred\": 1}";
  const fs::path broken = dir.path / "broken.json";
  std::ofstream(broken) << "{\"schema_version\": 1, \"cells\": [";
  const fs::path big_results = dir.path / "big-results.json";
  {
    std::ofstream f(big_results);
    f << "{}";
  }
  fs::resize_file(big_results, (std::uintmax_t{1} << 30) + (1u << 20));  // sparse: over the cap without using the disk

  for (const auto& [args, needle] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--preset", deep.string()}, "nests deeper"},
           {{"--preset", huge.string()}, "larger than"},
           {{"--preset", ctrl.string()}, "unknown key"},
           {{"report", deep.string()}, "nests deeper"},
           {{"report", broken.string()}, "not valid JSON"},
           {{"report", big_results.string()}, "larger than"},
           {{"report", (dir.path / "missing.json").string()}, "cannot open"},
       }) {
    CAPTURE(args.back());
    const auto r = run_tool(args, dir);
    CHECK_MESSAGE(r.code == 2, r.err);
    CHECK(r.err.find(needle) != std::string::npos);
    CHECK(r.err.find(fs::path(args.back()).filename().string()) != std::string::npos);
    CHECK(r.err.find('\x1b') == std::string::npos);
  }
}

TEST_CASE("resources: what the kernel would refuse is refused up front, naming the value and the limit") {
  TempDir dir;
  const fs::path log = dir.path / "spawn.log";
  SUBCASE("a pipe larger than fs.pipe-max-size") {
    const auto r = run_tool({"--mechanisms", "pipe", "--pipe-bytes", "1G"}, dir, {{"IPCMATRIX_SPAWN_LOG", log.string()}});
    CHECK(r.code == 2);
    CHECK(r.err.find("pipe-max-size") != std::string::npos);
    CHECK(!fs::exists(log));
  }
  SUBCASE("a TMPDIR too long for a socket path: named, and nothing made") {
    const fs::path long_tmp = dir.path / std::string(120, 'd');
    fs::create_directories(long_tmp);
    const auto r = run_tool({"--mechanisms", "unix", "--patterns", "pingpong", "--sizes", "64"}, dir,
                            {{"TMPDIR", long_tmp.string()}, {"IPCMATRIX_SPAWN_LOG", log.string()}});
    CHECK(r.code == 2);
    CHECK(r.err.find(long_tmp.string()) != std::string::npos);
    CHECK(fs::is_empty(long_tmp));
    CHECK(!fs::exists(log));
  }
  SUBCASE("ambiguous sizes and repeated values") {
    CHECK(run_tool({"--sizes", "1MB"}, dir).code == 2);
    const auto r = run_tool({"--sizes", "64,64", "--patterns", "pingpong", "--mechanisms", "pipe", "--serializers",
                             "raw", "--messages", "100", "--json", "-", "--quiet"},
                            dir);
    REQUIRE_MESSAGE(r.code == 0, r.err);
    CHECK(nlohmann::json::parse(r.out).at("cells").size() == 1);
  }
}

TEST_CASE("resources: a full /dev/shm is a clear cell error naming the size and the free space, never a SIGBUS") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root for a private mount namespace with a small /dev/shm");
    return;
  }
  TempDir dir;
  // Probe: can this machine give us a private, tiny /dev/shm?
  if (ToolProcess({"-m", "sh", "-c", "mount -t tmpfs -o size=256k tmpfs /dev/shm"}, dir, {}, "probe", "/usr/bin/unshare")
          .wait()
          .code != 0) {
    MESSAGE("skipped: unshare -m / mount tmpfs is not permitted here");
    return;
  }
  for (const std::string mech : {"shm", "bipc-mq"}) {
    CAPTURE(mech);
    const std::string cmd = "mount -t tmpfs -o size=256k tmpfs /dev/shm && exec " + std::string(IPCMATRIX_TOOL_PATH) +
                            " --sizes 1M --patterns stream --mechanisms " + mech +
                            " --serializers raw --messages 20 --ring-bytes 1M --json - --quiet";
    ToolProcess p({"-m", "sh", "-c", cmd}, dir, {}, "shm-full", "/usr/bin/unshare");
    const auto r = p.wait();
    CHECK_MESSAGE(r.code == 3, r.err);  // the cell failed; the run did not crash
    const auto j = nlohmann::json::parse(r.out);
    const std::string err = j.at("cells").at(0).at("error");
    CHECK_MESSAGE(err.find("free") != std::string::npos, err);
    CHECK_MESSAGE(err.find("bytes") != std::string::npos, err);
  }
}

TEST_CASE("fail closed: a mechanism whose name is taken fails and leaves the other object alone") {
  for (const char* mech : {"shm", "bipc-mq"}) {
    CAPTURE(mech);
    const std::string name = sys::unique_ipc_name();
    const fs::path path = fs::path("/dev/shm") / name;
    touch(path);
    ChannelOptions o;
    o.name = name;
    CHECK_THROWS_AS((void)find_transport(mech).create(o), Error);
    CHECK(slurp(path) == "x");
    fs::remove(path);
  }
  // unix: the directory name is taken.
  const std::string name = sys::unique_ipc_name();
  const fs::path d = fs::path(sys::temp_dir()) / name;
  fs::create_directories(d);
  touch(d / "keep");
  ChannelOptions o;
  o.name = name;
  CHECK_THROWS((void)find_transport("unix").create(o));
  CHECK(fs::exists(d / "keep"));
  fs::remove_all(d);
}

}  // TEST_SUITE
