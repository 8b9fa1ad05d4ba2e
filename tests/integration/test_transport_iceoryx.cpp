// iceoryx beyond the conformance suite: the RouDi life cycle that the tool owns (started and
// stopped by a run, nothing left; a RouDi the run did not start left alone and its cells
// skipped; a SIGINT mid-run stops it), the mempools fitted to a plan, and a loan-api cell. Every
// case here is in ctest's RESOURCE_LOCK iceoryx (CMakeLists.txt), so none runs beside another
// test that starts a RouDi; a case that finds one running anyway (not ours) says so and skips.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "ipcmatrix/runner/config.hpp"
#include "ipcmatrix/runner/plan.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/transport/iceoryx_roudi.hpp"
#include "runner/roudi_for_run.hpp"
#include "support/roudi_fixture.hpp"
#include "support/test_support.hpp"
#include "support/tool_runner.hpp"

using namespace ipcmatrix;
using namespace ipcmatrix::test;
using namespace std::chrono_literals;

namespace {

/// What a RouDi (ours or not) leaves on the machine, one line each; empty: nothing.
std::vector<std::string> roudi_traces() {
  std::vector<std::string> out;
  if (std::string f = iceoryx::foreign_roudi(); !f.empty()) out.push_back(f);
  for (const char* p : {"/tmp/roudi.lock", "/tmp/iox-unique-roudi.lock", iceoryx::kLockPath})
    if (fs::exists(fs::symlink_status(p))) out.push_back(std::string(p) + " exists");
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/tmp", ec)) {
    const std::string n = e.path().filename().string();
    if (n.rfind(iceoryx::kRuntimePrefix, 0) == 0 || n.rfind("ipc-matrix-roudi-", 0) == 0)
      out.push_back(e.path().string() + " exists");
  }
  return out;
}

/// The first of roudi_traces(), or "" (a message for a CHECK).
std::string first_trace() {
  const auto t = roudi_traces();
  return t.empty() ? std::string() : t.front();
}

/// Skips the case (with a message) when a RouDi or its names are already there: not ours.
bool machine_is_clear() {
  const auto t = roudi_traces();
  if (!t.empty()) MESSAGE("skipped: a RouDi not started by this test is present (" << t.front() << ")");
  return t.empty();
}

std::vector<std::string> small_run(const TempDir& dir, const std::string& mechanisms, const std::string& patterns = "stream",
                                   std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {"--sizes", "64", "--patterns", patterns, "--mechanisms", mechanisms,
                                "--serializers", "raw", "--messages", "300", "--warmup", "30",
                                "--repetitions", "1", "--json", (dir.path / "r.json").string(), "--quiet"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

/// True when no process has this pid (the tool reaped its daemon).
bool not_running_pid(int pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

nlohmann::json json_of(const fs::path& p) { return nlohmann::json::parse(slurp(p)); }

bool any_warning_has(const nlohmann::json& j, const std::string& needle) {
  for (const auto& w : j.at("warnings"))
    if (w.get<std::string>().find(needle) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_SUITE("iceoryx") {

TEST_CASE("iceoryx: mempools are fitted to the plan's cells, and the config is RouDi's TOML") {
  RunConfig cfg;
  cfg.mechanisms = {"iceoryx", "pipe"};
  cfg.patterns = {"stream", "fan-out"};
  cfg.sizes = {64, 64 << 10, 1 << 20};
  cfg.serializers = {"raw"};
  cfg.procs = 4;
  const auto cells = plan_cells(cfg, 4);
  const iceoryx::RoudiConfig rc = detail::roudi_config_for(cells);
  // One pool per message size (smallest first), each with room for the busiest cell: fan-out
  // of 4 has 3 channels of kChunksPerChannel chunks.
  REQUIRE(rc.pools.size() == 3);
  CHECK(rc.pools[0].payload_bytes >= 64 + 32);
  CHECK(rc.pools[2].payload_bytes >= (1u << 20) + 32);
  CHECK(rc.pools[2].payload_bytes < (1u << 20) + 4096);
  for (const auto& p : rc.pools) CHECK(p.count == 3 * iceoryx::kChunksPerChannel);
  CHECK(rc.bytes() < (std::uint64_t{256} << 20));
  const std::string toml = iceoryx::to_toml(rc);
  CHECK(toml.find("[[segment.mempool]]\nsize = " + std::to_string(rc.pools[2].payload_bytes)) != std::string::npos);
  CHECK(toml.find("version = 1") != std::string::npos);
}

TEST_CASE("iceoryx: a run starts its own RouDi, reports its start-up, and stops it leaving nothing") {
  if (!machine_is_clear()) return;
  TempDir dir;
  const auto r = run_tool(small_run(dir, "iceoryx", "stream,pingpong", {"--api", "copy,loan"}), dir);
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const auto j = json_of(dir.path / "r.json");
  const auto& d = j.at("environment").at("iceoryx_roudi");
  CHECK(d.at("startup_ms").get<double>() > 0);
  CHECK(d.at("pool_bytes").get<std::uint64_t>() > 0);
  REQUIRE(j.at("cells").size() == 4);  // stream and pingpong, copy and loan
  for (const auto& c : j.at("cells")) {
    CAPTURE(c.dump());
    CHECK(c.at("status") == "ok");
    CHECK(c.at("mechanism") == "iceoryx");
  }
  // No daemon, segment, socket, lock, private directory or client socket is left.
  CHECK_MESSAGE(roudi_traces().empty(), first_trace());
  CHECK(not_running_pid(d.at("pid").get<int>()));
}

TEST_CASE("iceoryx: a RouDi the run did not start is left alone and the iceoryx cells are skipped with a warning") {
  if (!machine_is_clear()) return;
  SUBCASE("a bare iox-roudi (foreign)") {
    // Started here, not through the module: the tool finds it only by its names and process.
    TempDir dir;
    const fs::path cfg = dir.path / "roudi.toml", log = dir.path / "roudi.log";
    write_file(cfg, iceoryx::to_toml(iceoryx::default_config()));
    const sys::Fd log_fd(::open(log.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    sys::Child roudi = sys::spawn_program(iceoryx::kRoudiProgram, {"-c", cfg.string()}, log_fd.get(), SIGTERM);
    for (int i = 0; i < 3000 && slurp(log).find("RouDi is ready") == std::string::npos; ++i)
      std::this_thread::sleep_for(10ms);
    REQUIRE_MESSAGE(slurp(log).find("RouDi is ready") != std::string::npos, slurp(log));
    const auto r = run_tool(small_run(dir, "pipe,iceoryx"), dir);
    CHECK_MESSAGE(r.code == 0, r.err);
    const auto j = json_of(dir.path / "r.json");
    REQUIRE(j.at("cells").size() == 1);
    CHECK(j.at("cells")[0].at("mechanism") == "pipe");
    CHECK(any_warning_has(j, "iceoryx: 1 cell(s) skipped: a RouDi that ipc-matrix did not start"));
    CHECK(any_warning_has(j, "left alone"));
    // Still running, still its names.
    CHECK(!roudi.poll().has_value());
    CHECK(fs::exists(iceoryx::kRoudiSocket));
    roudi.kill(SIGTERM);
    CHECK(roudi.wait_for(30'000ms).has_value());
    roudi.kill_and_reap();
  }
  SUBCASE("one owned by another ipc-matrix process (the lock is held)") {
    RoudiFixture mine;
    REQUIRE_MESSAGE(mine.running(), mine.why());
    TempDir dir;
    const auto r = run_tool(small_run(dir, "pipe,iceoryx"), dir);
    CHECK_MESSAGE(r.code == 0, r.err);
    const auto j = json_of(dir.path / "r.json");
    REQUIRE(j.at("cells").size() == 1);
    CHECK(any_warning_has(j, "another ipc-matrix process owns the iceoryx daemon"));
    CHECK(j.at("environment").at("iceoryx_roudi").contains("skipped"));
    CHECK(!not_running_pid(mine.get()->pid()));  // ours is untouched
  }
  CHECK_MESSAGE(roudi_traces().empty(), first_trace());
}

TEST_CASE("iceoryx: SIGINT mid-run stops the run's RouDi and leaves nothing") {
  if (!machine_is_clear()) return;
  TempDir dir;
  // Long cells: the signal comes while one runs.
  ToolProcess p({"--sizes", "64", "--patterns", "stream", "--mechanisms", "iceoryx", "--serializers", "raw",
                 "--duration", "3", "--repetitions", "5", "--json", (dir.path / "r.json").string(), "--quiet"},
                dir);
  bool up = false;
  for (int i = 0; i < 3000 && !up; ++i) {
    up = fs::exists(iceoryx::kRoudiSocket);
    if (!up) std::this_thread::sleep_for(10ms);
  }
  REQUIRE_MESSAGE(up, "the run's RouDi never came up: " << p.err_so_far());
  std::this_thread::sleep_for(1500ms);
  p.signal(SIGINT);
  const auto r = p.wait(120'000ms);
  CHECK_MESSAGE(r.code == 130, r.err);
  CHECK_MESSAGE(roudi_traces().empty(), first_trace());
  CHECK(sys::ipc_names_of(r.pid).empty());
}

}  // TEST_SUITE
