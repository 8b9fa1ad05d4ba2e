// deploy/: the Kubernetes Jobs, the Slurm scripts and the container build parse, and say what
// a sharded run needs (the local simulation of each engine is the e2e shard test).
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>

#include "ipcmatrix/runner/config.hpp"
#include "ipcmatrix/runner/dev_shm.hpp"
#include "ipcmatrix/runner/plan.hpp"
#include "ipcmatrix/runner/presets.hpp"

namespace {

std::string text_of(const char* rel) {
  std::ifstream in(std::string(IPCMATRIX_SOURCE_DIR) + "/deploy/" + rel);
  REQUIRE_MESSAGE(in.good(), rel);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// A Kubernetes quantity in bytes: "512Mi", "1Gi", "2G", or plain bytes.
std::uint64_t quantity_bytes(const std::string& q) {
  std::smatch m;
  REQUIRE_MESSAGE(std::regex_match(q, m, std::regex("([0-9]+)(Ki|Mi|Gi|Ti|K|M|G|T)?")), q);
  const std::uint64_t n = std::stoull(m[1].str());
  const std::string unit = m[2].str();
  if (unit.empty()) return n;
  const bool binary = unit.size() == 2;
  const std::uint64_t base = binary ? 1024 : 1000;
  const std::size_t power = std::string("KMGT").find(unit[0]) + 1;
  std::uint64_t f = 1;
  for (std::size_t i = 0; i < power; ++i) f *= base;
  return n * f;
}

bool has(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

}  // namespace

TEST_SUITE("deploy") {
  TEST_CASE("kubernetes: an Indexed Job, one part per pod and node, Guaranteed, /dev/shm in memory, and its merge") {
    const auto job = nlohmann::json::parse(text_of("kubernetes/ipc-matrix-shards.json"));
    CHECK(job.at("kind") == "Job");
    const auto& spec = job.at("spec");
    CHECK(spec.at("completionMode") == "Indexed");
    const int parts = spec.at("completions").get<int>();
    CHECK(spec.at("parallelism") == parts);
    const auto& pod = spec.at("template").at("spec");
    CHECK(pod.at("restartPolicy") == "Never");
    // One pod per node: two parts on one host would measure each other.
    const auto& anti = pod.at("affinity").at("podAntiAffinity").at("requiredDuringSchedulingIgnoredDuringExecution")[0];
    CHECK(anti.at("topologyKey") == "kubernetes.io/hostname");
    CHECK(anti.at("labelSelector").at("matchLabels") == spec.at("template").at("metadata").at("labels"));
    REQUIRE(pod.at("containers").size() == 1);
    const auto& c = pod.at("containers")[0];
    const std::string args = c.at("args")[0];
    CHECK(has(args, "--shard auto"));
    CHECK(has(args, "${JOB_COMPLETION_INDEX}"));
    bool count_set = false;
    for (const auto& e : c.at("env"))
      if (e.at("name") == "IPCMATRIX_SHARD_COUNT") count_set = e.at("value") == std::to_string(parts);
    CHECK_MESSAGE(count_set, "IPCMATRIX_SHARD_COUNT must equal completions");
    // Guaranteed QoS: requests equal limits for CPU and memory.
    CHECK(c.at("resources").at("requests") == c.at("resources").at("limits"));
    CHECK(c.at("resources").at("limits").contains("cpu"));
    std::string shm_volume;
    for (const auto& m : c.at("volumeMounts"))
      if (m.at("mountPath") == "/dev/shm") shm_volume = m.at("name");
    REQUIRE_FALSE(shm_volume.empty());
    std::string claim;
    for (const auto& v : pod.at("volumes")) {
      if (v.at("name") == shm_volume) {
        CHECK(v.at("emptyDir").at("medium") == "Memory");
        CHECK(v.at("emptyDir").contains("sizeLimit"));
      }
      if (v.contains("persistentVolumeClaim")) claim = v.at("persistentVolumeClaim").at("claimName");
    }
    CHECK_FALSE(claim.empty());
    // The merge Job reads every part from the same claim.
    const auto merge = nlohmann::json::parse(text_of("kubernetes/ipc-matrix-merge.json"));
    const auto& mpod = merge.at("spec").at("template").at("spec");
    const std::string margs = mpod.at("containers")[0].at("args")[0];
    CHECK(has(margs, "ipc-matrix merge"));
    for (int i = 0; i < parts; ++i) CHECK(has(margs, "part-" + std::to_string(i) + ".json"));
    CHECK(mpod.at("volumes")[0].at("persistentVolumeClaim").at("claimName") == claim);
  }

  TEST_CASE("kubernetes: the pod's /dev/shm holds what the plan it runs needs, within its memory") {
    const auto job = nlohmann::json::parse(text_of("kubernetes/ipc-matrix-shards.json"));
    const auto& pod = job.at("spec").at("template").at("spec");
    const auto& c = pod.at("containers")[0];
    // The plan the pod runs: its preset, on the CPUs its limit gives it (which sets procs).
    std::smatch m;
    const std::string args = c.at("args")[0];
    REQUIRE(std::regex_search(args, m, std::regex("--preset ([a-z]+)")));
    ipcmatrix::RunConfig cfg;
    ipcmatrix::apply_preset(cfg, ipcmatrix::load_preset(m[1].str()));
    const int cpus = std::stoi(c.at("resources").at("limits").at("cpu").get<std::string>());
    const std::uint64_t need = ipcmatrix::dev_shm_bytes_needed(ipcmatrix::plan_cells(cfg, cpus), cfg);
    CHECK(need > ipcmatrix::kRoudiManagementBytes);  // every mechanism, iceoryx's RouDi among them
    std::uint64_t size_limit = 0;
    for (const auto& v : pod.at("volumes"))
      if (v.contains("emptyDir")) size_limit = quantity_bytes(v.at("emptyDir").at("sizeLimit"));
    MESSAGE("the plan needs " << need << " bytes of /dev/shm; the volume holds " << size_limit);
    CHECK(size_limit >= need);
    // A memory-backed volume counts against the pod's memory: the limit must hold it and the
    // processes (a 1 MiB cell's workers and their message pools: well under 2 GiB).
    const std::uint64_t memory = quantity_bytes(c.at("resources").at("limits").at("memory"));
    CHECK(memory >= size_limit + (std::uint64_t{2} << 30));
  }

  TEST_CASE("slurm: an exclusive array with --shard auto, and a merge after every task succeeded") {
    const std::string array = text_of("slurm/ipc-matrix-array.sbatch");
    CHECK(std::regex_search(array, std::regex("#SBATCH --array=0-[0-9]+")));
    CHECK(has(array, "#SBATCH --exclusive"));
    CHECK(has(array, "--shard auto"));
    CHECK(has(text_of("slurm/ipc-matrix-merge.sbatch"), "ipc-matrix merge"));
    const std::string submit = text_of("slurm/submit.sh");
    CHECK(has(submit, "sbatch --parsable ipc-matrix-array.sbatch"));
    CHECK(has(submit, "--dependency=\"afterok:"));
  }

  TEST_CASE("container: Debian 12, built with the README's setup, presets where the tool finds them") {
    const std::string d = text_of("Dockerfile");
    CHECK(has(d, "FROM debian:12"));
    CHECK(has(d, "tools/setup.sh"));
    CHECK(has(d, "IPCMATRIX_PRESETS="));
  }
}
