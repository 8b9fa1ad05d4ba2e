// ipc-matrix: argv -> a command (run, list, report, compare, recommend, cleanup; or the hidden
// worker role).
// Thin on purpose: everything measurable lives in the library.
//
// Exit codes: 0 every cell ok; 1 an output could not be written (or another I/O error);
//             2 bad input: a usage error, an unwritable destination, a bad preset or results
//               file (before any process is spawned);
//             3 one or more cells failed (the others still ran and were reported);
//             128 + signal (130 SIGINT, 143 SIGTERM, 129 SIGHUP) when interrupted, after writing
//               the cells that finished with "complete": false.
//             compare: 1 when a figure regressed beyond the threshold, 0 otherwise, 2 bad input.
//             recommend: 1 when no measured configuration meets the constraints, 2 bad input.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <fmt/core.h>
#include <iostream>

#include "cli.hpp"
#include "ipcmatrix/pattern/pattern.hpp"
#include "ipcmatrix/report/recommend.hpp"
#include "ipcmatrix/report/compare.hpp"
#include "ipcmatrix/report/decisions.hpp"
#include "ipcmatrix/report/export.hpp"
#include "ipcmatrix/report/fleet.hpp"
#include "ipcmatrix/report/merge.hpp"
#include "ipcmatrix/report/reporter.hpp"
#include "ipcmatrix/model/format_units.hpp"
#include "ipcmatrix/model/results.hpp"
#include "ipcmatrix/report/writers.hpp"
#include "ipcmatrix/runner/coordinator.hpp"
#include "ipcmatrix/runner/shard.hpp"
#include "ipcmatrix/runner/worker.hpp"
#include "ipcmatrix/serialize/serializer.hpp"
#include "ipcmatrix/sys/ipc_names.hpp"
#include "ipcmatrix/sys/interrupt.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/util/json_file.hpp"
#include "ipcmatrix/util/output_file.hpp"
#include "ipcmatrix/util/text.hpp"
#include "ipcmatrix/transport/iceoryx_roudi.hpp"
#include "ipcmatrix/transport/transport.hpp"

#ifndef IPCMATRIX_VERSION
#define IPCMATRIX_VERSION "0.0.0"
#endif

using namespace ipcmatrix;
namespace fs = std::filesystem;

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitCellsFailed = 3;
/// After the first SIGINT/SIGTERM/SIGHUP the running cell has this long to end before its
/// workers are killed: a default cell measures for 1 s.
constexpr int kInterruptGraceMs = 2000;

/// What `run --out DIR` writes, and what `report` regenerates from a results file.
const std::vector<std::string> kRunReporters = reporter_names();
const std::vector<std::string> kReportReporters = rendering_reporter_names();

int cmd_list(bool as_json) {
  if (as_json) {
    nlohmann::json j{{"mechanisms", nlohmann::json::array()},
                     {"serializers", nlohmann::json::array()},
                     {"patterns", pattern_names()},
                     {"reporters", reporter_names()}};
    j["semantics"] = nlohmann::json::object();
    for (const auto* t : all_transports()) {
      j["mechanisms"].push_back(t->name);
      j["semantics"][std::string(t->name)] = semantics_of(*t);
    }
    for (const auto& s : serializer_infos()) j["serializers"].push_back(s.name);
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::cout << "mechanisms:\n";
  for (const auto* t : all_transports()) {
    std::cout << fmt::format("  {:<10} {}\n", t->name, t->description);
    std::cout << fmt::format("  {:<10} {}\n", "", summary_line(semantics_of(*t)));
  }
  std::cout << "serializers:\n";
  for (const auto& s : serializer_infos()) std::cout << fmt::format("  {:<10} {}\n", s.name, s.description);
  std::cout << "patterns:\n";
  for (const auto* p : all_patterns()) std::cout << fmt::format("  {:<10} {}\n", p->name, p->description);
  std::cout << "reporters:\n";
  for (const auto* r : all_reporters()) std::cout << fmt::format("  {:<10} {}\n", r->name, r->description);
  return 0;
}

std::string cell_name(const Cell& c) {
  return fmt::format("{} {} {} {}B {} {} b{}", c.pattern->name, c.mechanism->name, c.serializer, c.size_bytes,
                     to_string(c.wait), to_string(c.placement), c.batch);
}

/// Writes to stdout and fails loudly when it could not (a closed pipe, a full disk).
void print_stdout(std::string_view text) {
  std::cout << text << std::flush;
  if (!std::cout) throw std::runtime_error("cannot write to standard output");
}

/// Standard output by another name is standard output: reopening /dev/stdout would write at
/// offset 0 of a redirected file, under the summary table, and truncate nothing.
bool names_stdout(const std::string& path) {
  return path == "-" || path == "/dev/stdout" || path == "/dev/fd/1" || path == "/proc/self/fd/1";
}

int cmd_run(RunConfig cfg, const std::string& command_line) {
  if (names_stdout(cfg.json_path)) cfg.json_path = "-";
  // A part that cannot be resolved (--shard auto outside an array job) fails before anything is made.
  (void)resolve_shard(cfg.shard);
  // Destinations first: minutes of measuring must not end in "cannot write".
  check_output_file(cfg.json_path);
  prepare_output_dir(cfg.out_dir);
  // From here on SIGINT, SIGTERM and SIGHUP end the run in order (sys/interrupt.hpp). A second
  // signal aborts at once, still removing this run's IPC objects.
  const sys::InterruptWatch watch(std::chrono::milliseconds(kInterruptGraceMs), [] {
    for (const auto& n : sys::own_ipc_names()) sys::remove_ipc_object(n);
    iceoryx::abort_owned_roudi();
  });
  const bool tty = ::isatty(2) != 0;
  MatrixCallbacks cb;
  if (!cfg.quiet) {
    cb.on_cell_start = [&](const MatrixProgress& p, const Cell& c) {
      if (!tty) return;
      // The first pass runs every cell; racing rounds only the open ones, which the line counts.
      const std::string round =
          p.round <= p.first_pass
              ? (p.first_pass > 1 ? fmt::format("round {}/{}, ", p.round, p.first_pass) : std::string())
              : fmt::format("race round {}/{}{}, {} open, ", p.round, p.max_rounds,
                            p.racing_summary ? " (summary)" : "", p.open_cells);
      const std::string eta = p.eta_s < 0 ? std::string("-") : format_elapsed_s(p.eta_s);
      std::cerr << fmt::format("\r\033[K[{}{}/{}] {}  elapsed {}  eta {}", round, p.in_round, p.round_size, cell_name(c),
                               format_elapsed_s(p.elapsed_s), eta)
                << std::flush;
    };
    cb.on_cell_done = [&](std::size_t i, std::size_t n, const CellResult& r) {
      if (tty && r.ok()) return;
      std::cerr << fmt::format("{}[{}/{}] {} {} {} {}B: {}\n", tty ? "\r\033[K" : "", i + 1, n, r.pattern,
                               r.mechanism, r.serializer, r.size_bytes,
                               r.ok() ? "ok" : "ERROR " + r.error);
    };
  }
  RunResult res = run_matrix(cfg, cb);
  if (tty && !cfg.quiet) std::cerr << "\r\033[K";
  res.tool_version = IPCMATRIX_VERSION;
  res.config["command_line"] = command_line;
  if (!cfg.json_path.empty()) {
    if (cfg.json_path == "-") {
      const TextPieces text = results_text(res);
      for (std::string_view piece = text(); !piece.empty(); piece = text()) print_stdout(piece);
    } else {
      save_results(res, cfg.json_path, /*follow_symlink=*/true);
    }
  }
  if (!cfg.out_dir.empty()) write_reports(res, cfg.out_dir, kRunReporters);
  if (!cfg.quiet) {
    std::ostream& table = cfg.json_path == "-" ? std::cerr : std::cout;
    print_table(table, res);
    for (const auto& w : res.warnings) table << "warning: " << w << "\n";
    if (const auto note = race_budget_note(res)) table << "note: " << *note << " (--budget gives it more)\n";
    table << fmt::format("{} cells in {:.1f} s", res.cells.size(), res.elapsed_s);
    if (!cfg.out_dir.empty()) table << fmt::format("; report: {}/PERFORMANCE_REPORT.md", cfg.out_dir);
    table << "\n";
    table.flush();
    // A SIGHUP usually means the terminal is gone: then the console table cannot be written,
    // and the files (already written) and the exit code 129 are what count.
    if (!table && sys::interrupt_signal() == 0) throw std::runtime_error("cannot write the summary table");
  }
  if (const int sig = sys::interrupt_signal(); sig != 0) {
    std::cerr << fmt::format("ipc-matrix: interrupted by {}; {} finished cell(s) written, marked incomplete\n",
                             sys::signal_name(sig), res.cells.size());
    return 128 + sig;
  }
  for (const auto& c : res.cells)
    if (!c.ok()) return kExitCellsFailed;
  return 0;
}

int cmd_report(const std::string& results, std::string out_dir) {
  const RunResult res = load_results(results);  // first: a bad input creates no directory
  if (out_dir.empty()) out_dir = fs::path(results).parent_path().string();
  if (out_dir.empty()) out_dir = ".";
  prepare_output_dir(out_dir);
  write_reports(res, out_dir, kReportReporters);
  print_stdout("wrote " + (fs::path(out_dir) / "PERFORMANCE_REPORT.md").string() + "\n");
  return 0;
}

int cmd_compare(const std::string& baseline, const std::string& current, const std::string& threshold, bool markdown) {
  const double t = parse_percent(threshold, "--threshold");
  const RunResult a = load_results(baseline);
  const RunResult b = load_results(current);
  const Comparison c = compare_results(a, b, t);
  print_stdout(render_comparison(c, markdown));
  return c.regressed() ? 1 : 0;
}

struct RecommendArgs {
  std::string results, pattern, size, rate, p99_under, max_cores, emit_config;
  bool json = false;
};

int cmd_recommend(const RecommendArgs& a) {
  Constraints k;
  if (pattern_or_null(a.pattern) == nullptr)
    throw UsageError("--pattern: '" + escape_control(a.pattern) + "' is not a pattern (" + join(pattern_names()) + ")");
  k.pattern = a.pattern;
  k.size_bytes = parse_size(a.size, "--size");
  if (!a.rate.empty()) k.rate = parse_rate(a.rate, "--rate");
  if (!a.p99_under.empty()) {
    k.p99_under_ns = parse_duration(a.p99_under, "--p99-under") * 1e9;
    if (!(*k.p99_under_ns > 0)) throw UsageError("--p99-under: must be above 0");
  }
  if (!a.max_cores.empty()) {
    k.max_cores = parse_number(a.max_cores, "--max-cores");
    if (!(*k.max_cores > 0)) throw UsageError("--max-cores: must be above 0");
  }
  if (!a.emit_config.empty()) check_output_file(a.emit_config);
  const RunResult r = load_results(a.results);
  Choice c;
  try {
    c = choose(r, k);
  } catch (const std::invalid_argument& e) {
    throw BadInput(a.results + ": " + e.what());
  }
  if (a.json) print_stdout(to_json(c, k).dump(2) + "\n");
  else print_stdout(render_choice(c, k));
  if (!c.best) return 1;
  if (!a.emit_config.empty()) {
    write_output_file(a.emit_config, deployment_json(*c.best).dump(2) + "\n", /*follow_symlink=*/true);
    if (!a.json) print_stdout("wrote " + a.emit_config + " (load it with ipcmatrix::load_deployment)\n");
  }
  return 0;
}

/// Results files of one plan: per machine one results file and its reports; with several
/// machines, each in machines/<label>/ and a report across them at the top (report/merge.hpp,
/// report/fleet.hpp). Memory: one machine's cells and one file at a time.
int cmd_merge(const std::vector<std::string>& files, const std::string& out_dir) {
  // First pass: each file's plan, part and machine, one file in memory at a time; bad input
  // makes no directory.
  std::vector<PartHeader> headers;
  for (const std::string& f : files) headers.push_back(header_of({f, load_results(f)}));
  const std::vector<std::vector<std::size_t>> groups = group_by_machine(headers);
  prepare_output_dir(out_dir);
  std::vector<std::string> hostnames;
  for (const auto& g : groups) hostnames.push_back(headers[g.front()].hostname);
  const std::vector<std::string> labels = machine_labels(hostnames);
  const bool fleet = groups.size() > 1;
  std::vector<MachineAnswer> answers;
  bool complete = true;
  for (std::size_t m = 0; m < groups.size(); ++m) {
    MachineMerge merge;
    for (const std::size_t i : groups[m]) merge.add({files[i], load_results(files[i])});
    const RunResult merged = std::move(merge).finish();
    const fs::path dir = fleet ? fs::path(out_dir) / "machines" / labels[m] : fs::path(out_dir);
    if (fleet) prepare_output_dir(dir.string());
    save_results(merged, (dir / "results.json").string());
    write_reports(merged, dir.string(), kReportReporters);
    print_stdout(fmt::format("merged {} file(s), {} cell(s){} -> {}\n", groups[m].size(), merged.cells.size(),
                             fleet ? " of machine " + labels[m] : std::string(), (dir / "results.json").string()));
    // A merge step after an array job must not pass with parts missing: written, but exit 1.
    if (!merged.complete) {
      complete = false;
      for (const std::string& w : merged.warnings)
        if (w.starts_with("incomplete merge"))
          std::cerr << "ipc-matrix: " << (fleet ? labels[m] + ": " : std::string()) << w << "\n";
    }
    if (fleet) answers.push_back(machine_answer(labels[m], merged));
  }
  if (fleet) {
    const std::string& plan = headers.front().plan_hash;
    write_output_file((fs::path(out_dir) / "PERFORMANCE_REPORT.md").string(), fleet_markdown(answers, plan));
    write_output_file((fs::path(out_dir) / "fleet.json").string(), fleet_json(answers, plan).dump(2) + "\n");
    print_stdout(fmt::format("{} machines: the picks side by side -> {}\n", groups.size(),
                             (fs::path(out_dir) / "PERFORMANCE_REPORT.md").string()));
  }
  return complete ? 0 : 1;
}

/// A results file in a tracker's format (report/export.hpp), to stdout or a file.
int cmd_export(const std::string& results, const std::string& format, const std::string& out) {
  const std::optional<ExportFormat> f = parse_name<ExportFormat>(format);
  if (!f) throw UsageError("--format: '" + escape_control(format) + "' is not a format (" + join(all_names<ExportFormat>()) + ")");
  if (!out.empty() && out != "-") check_output_file(out);
  const RunResult r = load_results(results);
  const std::string text = export_results(r, *f).dump(2) + "\n";
  if (out.empty() || out == "-") print_stdout(text);
  else write_output_file(out, text, /*follow_symlink=*/true);
  return 0;
}

/// Removes what killed runs left behind, and only that: objects whose owning process is gone
/// (sys/ipc_names.hpp). Live runs' objects and anything not shaped like ours are left alone,
/// each with the reason.
int cmd_cleanup(bool dry_run) {
  const auto entries = sys::cleanup_orphans(dry_run);
  std::size_t removed = 0;
  std::string out;
  for (const auto& e : entries) {
    out += escape_control(e.path) + ": " + e.reason + "\n";
    removed += e.removed ? 1 : 0;
  }
  out += fmt::format("{} object(s) {}, {} left alone\n", removed, dry_run ? "would be removed" : "removed",
                     entries.size() - removed);
  print_stdout(out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (const int rc = maybe_run_worker(argc, argv); rc >= 0) return rc;

  CLI::App app{"ipc-matrix: measure pipes, Unix sockets, shared-memory rings, TCP and message queues "
               "between real processes, and report which to deploy."};
  app.set_version_flag("--version", std::string("ipc-matrix ") + IPCMATRIX_VERSION);
  app.require_subcommand(0, 1);
  CliState st;
  add_run_options(app, st);
  bool list_json = false;
  auto* list = app.add_subcommand("list", "Print the registered mechanisms, serializers, patterns and reporters");
  list->add_flag("--json", list_json, "as {\"mechanisms\":[...],\"semantics\":{mechanism: card},\"serializers\":[...],\"patterns\":[...],\"reporters\":[...]}");
  std::string report_in, report_out;
  auto* report = app.add_subcommand("report", "Regenerate PERFORMANCE_REPORT.md, CSV and .hgrm from results.json");
  report->add_option("results", report_in, "results.json written by a run")->required();
  report->add_option("--out", report_out, "directory (default: beside the results file)")
      ->multi_option_policy(CLI::MultiOptionPolicy::Throw);
  std::string compare_base, compare_current, compare_threshold = "10%";
  bool compare_markdown = false;
  auto* compare = app.add_subcommand(
      "compare", "Per matching cell, what changed between two results files: improved, regressed or unchanged, with "
                 "noise told apart by a test over the repetitions; exit 1 when anything regressed");
  compare->add_option("baseline", compare_base, "results.json of the reference run")->required();
  compare->add_option("current", compare_current, "results.json of the run to judge")->required();
  compare->add_option("--threshold", compare_threshold, "smallest change that counts (default 10%)")
      ->type_name("PCT")
      ->multi_option_policy(CLI::MultiOptionPolicy::Throw);
  compare->add_flag("--markdown", compare_markdown, "Markdown tables instead of plain text");
  RecommendArgs rec;
  auto* recommend = app.add_subcommand(
      "recommend", "The best measured configuration for a pattern and size under constraints, the runner-up and why");
  recommend->add_option("results", rec.results, "results.json written by a run")->required();
  const auto once = CLI::MultiOptionPolicy::Throw;
  recommend->add_option("--pattern", rec.pattern, "pattern (e.g. fan-out)")->required()->multi_option_policy(once);
  recommend->add_option("--size", rec.size, "message size (e.g. 4K)")->required()->multi_option_policy(once);
  recommend->add_option("--rate", rec.rate, "msgs/s it must sustain (e.g. 50k)")->type_name("MSGS/S")->multi_option_policy(once);
  recommend->add_option("--p99-under", rec.p99_under, "p99 latency limit (e.g. 50us); ranks by p99")
      ->type_name("TIME")
      ->multi_option_policy(once);
  recommend->add_option("--max-cores", rec.max_cores, "CPU cores it may use while measuring (e.g. 1)")
      ->type_name("N")
      ->multi_option_policy(once);
  recommend->add_flag("--json", rec.json, "print the answer as JSON");
  recommend->add_option("--emit-config", rec.emit_config, "write the chosen settings as JSON (ipcmatrix::load_deployment)")
      ->type_name("FILE")
      ->multi_option_policy(once);
  std::vector<std::string> merge_in;
  std::string merge_out;
  auto* merger = app.add_subcommand(
      "merge",
      "Join results files of one plan (--shard parts, reruns): per machine one results file and report (parts join, "
      "reruns pool their histograms and repetitions); several machines stay apart, with a report across them");
  merger->add_option("results", merge_in, "results.json of each part or run")->required();
  merger->add_option("--out", merge_out,
                     "directory for the merged results.json and reports (several machines: machines/<name>/ each, and "
                     "PERFORMANCE_REPORT.md and fleet.json across them)")
      ->required()
      ->multi_option_policy(CLI::MultiOptionPolicy::Throw);
  std::string export_in, export_format, export_out;
  auto* exporter = app.add_subcommand(
      "export", "A results file as Bencher Metric Format or github-action-benchmark's custom JSON, to chart runs over time");
  exporter->add_option("results", export_in, "results.json written by a run")->required();
  exporter->add_option("--format", export_format,
                       "bmf, github-action-benchmark (latencies and CPU: customSmallerIsBetter) or "
                       "github-action-benchmark-throughput (msgs/s: customBiggerIsBetter)")
      ->required()
      ->multi_option_policy(once);
  exporter->add_option("--out", export_out, "file to write (default: stdout)")->type_name("FILE")->multi_option_policy(once);
  auto* cleanup = app.add_subcommand(
      "cleanup", "Remove shared-memory segments and socket directories left by killed runs (never a live run's)");
  bool cleanup_dry_run = false;
  cleanup->add_flag("--dry-run,-n", cleanup_dry_run, "only say what would be removed and what is left alone, and why");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "ipc-matrix: " << escape_control(e.what()) << "\n(run ipc-matrix --help for the options)\n";
    return kExitUsage;
  }

  try {
    if (*list) return cmd_list(list_json);
    if (*report) return cmd_report(report_in, report_out);
    if (*cleanup) return cmd_cleanup(cleanup_dry_run);
    if (*compare) return cmd_compare(compare_base, compare_current, compare_threshold, compare_markdown);
    if (*recommend) return cmd_recommend(rec);
    if (*exporter) return cmd_export(export_in, export_format, export_out);
    if (*merger) return cmd_merge(merge_in, merge_out);
    RunConfig cfg;
    try {
      cfg = finish_run_config(st);
    } catch (const UsageError& e) {
      std::cerr << "ipc-matrix: " << escape_control(e.what()) << "\n";
      return kExitUsage;
    }
    std::string command_line = "ipc-matrix";
    for (int i = 1; i < argc; ++i) command_line += std::string(" ") + argv[i];
    return cmd_run(cfg, command_line);
  } catch (const BadInput& e) {
    std::cerr << "ipc-matrix: " << escape_control(e.what()) << "\n";
    return kExitUsage;
  } catch (const UsageError& e) {
    std::cerr << "ipc-matrix: " << escape_control(e.what()) << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "ipc-matrix: " << escape_control(e.what()) << "\n";
    return 1;
  }
}
