// Charts: the series come from the results, and the SVGs gnuplot draws hold exactly them.
#include <doctest/doctest.h>

#include <cstdlib>
#include <regex>

#include "ipcmatrix/report/charts.hpp"
#include "ipcmatrix/report/markdown.hpp"
#include "support/tool_runner.hpp"

using namespace ipcmatrix;

namespace {

CellResult cell(std::string pattern, std::string mechanism, std::uint64_t size, std::uint64_t p50_ns, double msgs_per_s,
                std::string load = "", double rate = 0) {
  CellResult c;
  c.pattern = std::move(pattern);
  c.mechanism = std::move(mechanism);
  c.serializer = "raw";
  c.wait = Wait::spin;
  c.placement = Placement::cross_core;
  c.status = CellStatus::ok;
  c.size_bytes = size;
  c.procs = 2;
  if (!load.empty()) c.load = parse_load_label(load);
  c.rate = rate;
  c.duration_s = 1;
  c.messages_sent = c.messages_received = static_cast<std::uint64_t>(rate > 0 ? rate : msgs_per_s);
  for (std::uint64_t i = 0; i < 2000; ++i) c.histogram.record(p50_ns + (i % 100 == 99 ? p50_ns * 3 : i % 7));
  c.latency_ns.p50 = c.histogram.value_at_percentile(50);
  c.latency_ns.p99 = c.histogram.value_at_percentile(99);
  c.latency_ns.count = c.histogram.count();
  c.throughput.msgs_per_s = msgs_per_s;
  c.throughput.payload_bytes_per_s = msgs_per_s * static_cast<double>(size);
  c.cpu.user_s = 1;
  c.cpu.per_msg_ns = 1e9 / msgs_per_s;
  return c;
}

RunResult fixture() {
  RunResult r;
  r.cells = {cell("pingpong", "shm", 64, 1'000, 4e5), cell("pingpong", "pipe", 64, 20'000, 5e4),
             cell("pingpong", "shm", 4096, 2'000, 3e5), cell("pingpong", "pipe", 4096, 25'000, 4e4),
             cell("stream", "shm", 64, 500, 2e7), cell("stream", "shm", 64, 3'000, 1e7, "50%", 1e7),
             cell("stream", "shm", 64, 90'000, 200, "sporadic", 200), cell("stream", "pipe", 64, 900, 1e6),
             cell("stream", "pipe", 64, 5'000, 5e5, "50%", 5e5), cell("stream", "pipe", 64, 60'000, 200, "sporadic", 200),
             cell("stream", "shm", 4096, 900, 4e6), cell("stream", "pipe", 4096, 2'000, 3e5)};
  return r;
}

/// Per plotted series of a gnuplot SVG: its title and the y pixel of each data point (the
/// key's sample point, drawn last, left out).
std::vector<std::pair<std::string, std::vector<double>>> svg_series(const std::string& svg) {
  std::vector<std::pair<std::string, std::vector<double>>> out;
  const std::regex group(R"(<g id="gnuplot_plot_\d+" ><title>([^<]*)</title>)");
  const std::regex point(R"(<use xlink:href='#gpPt\d+' transform='translate\(([\d.]+),([\d.]+)\))");
  std::vector<std::size_t> starts;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), group); it != std::sregex_iterator(); ++it) {
    out.push_back({(*it)[1].str(), {}});
    starts.push_back(static_cast<std::size_t>(it->position()));
  }
  for (std::size_t i = 0; i < starts.size(); ++i) {
    const std::size_t end = i + 1 < starts.size() ? starts[i + 1] : svg.size();
    const std::string part = svg.substr(starts[i], end - starts[i]);
    for (auto it = std::sregex_iterator(part.begin(), part.end(), point); it != std::sregex_iterator(); ++it)
      out[i].second.push_back(std::stod((*it)[2].str()));
    if (!out[i].second.empty()) out[i].second.pop_back();  // the key's sample
  }
  return out;
}

}  // namespace

TEST_SUITE("report") {

TEST_CASE("charts: the series are the results' best cell per mechanism and size") {
  const RunResult r = fixture();
  const auto charts = chart_plan(r);
  std::vector<std::string> files;
  for (const auto& c : charts) files.push_back(c.file);
  CHECK(files == std::vector<std::string>{"latency_vs_size.svg", "percentiles.svg", "latency_vs_load.svg",
                                          "throughput_vs_size.svg", "cpu_per_msg.svg"});
  const Chart& size = charts[0];
  REQUIRE(size.series.size() == 2);
  CHECK(size.series[0].name == "shm");
  CHECK(size.series[0].points == std::vector<std::pair<double, double>>{
                                     {64, static_cast<double>(*r.cells[0].latency_ns.p50) / 1e3},
                                     {4096, static_cast<double>(*r.cells[2].latency_ns.p50) / 1e3}});
  CHECK(size.x_label.find("bytes") != std::string::npos);
  CHECK(size.y_label.find("(us)") != std::string::npos);
  // Load: p99 and p50 per mechanism, lowest offered rate first.
  const Chart& load = charts[2];
  REQUIRE(load.series.size() == 4);
  CHECK(load.series[0].name == "shm spin p99");
  CHECK_FALSE(load.series[0].dashed);
  CHECK(load.series[1].dashed);
  REQUIRE(load.series[0].points.size() == 2);
  CHECK(load.series[0].points[0].first == 200);
  CHECK(load.series[0].points[1].first == 1e7);
  // Percentiles only where the histogram resolves them (2000 samples: up to p99.95).
  CHECK(charts[1].series[0].points.size() == 8);
  // Throughput in MB/s, closed loop only.
  CHECK(charts[3].series[0].points == std::vector<std::pair<double, double>>{{64, 2e7 * 64 / 1e6}, {4096, 4e6 * 4096 / 1e6}});
}

TEST_CASE("charts: gnuplot's SVGs hold exactly the planned series, and the report links them") {
  const RunResult r = fixture();
  if (!gnuplot_path()) {
    MESSAGE("gnuplot not installed (gnuplot-nox): SVG drawing not tested here");
    return;
  }
  test::TempDir dir;
  write_charts(r, dir.path.string());
  for (const Chart& c : chart_plan(r)) {
    CAPTURE(c.file);
    const std::string svg = test::slurp(dir.path / kChartsDir / c.file);
    REQUIRE(svg.find("</svg>") != std::string::npos);
    CHECK(svg.find(c.x_label) != std::string::npos);
    CHECK(svg.find(c.y_label) != std::string::npos);
    const auto drawn = svg_series(svg);
    REQUIRE(drawn.size() == c.series.size());
    for (std::size_t i = 0; i < drawn.size(); ++i) {
      CHECK(drawn[i].first == c.series[i].name);
      REQUIRE(drawn[i].second.size() == c.series[i].points.size());
      // The y axis maps data monotonically: a larger value is drawn higher (smaller y pixel).
      for (std::size_t k = 1; k < drawn[i].second.size(); ++k) {
        const double dy = c.series[i].points[k].second - c.series[i].points[k - 1].second;
        const double py = drawn[i].second[k] - drawn[i].second[k - 1];
        if (dy > 0) CHECK(py < 0);
        if (dy < 0) CHECK(py > 0);
      }
    }
    // Deterministic: drawn again, the same bytes.
    test::TempDir again;
    write_charts(r, again.path.string());
    CHECK(test::slurp(again.path / kChartsDir / c.file) == svg);
  }
  CHECK(markdown_report(r).find("](charts/latency_vs_size.svg)") != std::string::npos);
}

TEST_CASE("charts: without gnuplot nothing is drawn and the report says the charts were skipped") {
  const RunResult r = fixture();
  ::setenv("IPCMATRIX_GNUPLOT", "/nonexistent/gnuplot", 1);
  CHECK_FALSE(gnuplot_path().has_value());
  test::TempDir dir;
  write_charts(r, dir.path.string());
  CHECK_FALSE(std::filesystem::exists(dir.path / kChartsDir));
  CHECK(markdown_report(r).find("Charts were skipped") != std::string::npos);
  ::unsetenv("IPCMATRIX_GNUPLOT");
}

}  // TEST_SUITE
