// The one spelling of durations, rates, sizes, figures and ratios (model/format_units.hpp).
#include <doctest/doctest.h>

#include <limits>

#include "ipcmatrix/model/format_units.hpp"

using namespace ipcmatrix;

TEST_SUITE("model") {
  TEST_CASE("format_units: durations are auto-scaled to 3 significant digits, a space before the unit") {
    CHECK(format_ns(850) == "850 ns");
    CHECK(format_ns(12345) == "12.3 us");
    CHECK(format_ns(61234) == "61.2 us");
    CHECK(format_ns(4.56e6) == "4.56 ms");
    CHECK(format_ns(999.7e3) == "1.00 ms");  // rounding picks the unit
    CHECK(format_ns(1.2e9) == "1.20 s");
    CHECK(format_ns(2.5) == "2.50 ns");
    CHECK(format_ns(0) == "0 ns");
    CHECK(format_ns(-1) == "-");
    CHECK(format_ns(std::numeric_limits<double>::quiet_NaN()) == "-");
  }

  TEST_CASE("format_units: rates take an SI prefix spaced like a unit") {
    CHECK(format_rate(450000) == "450 k");
    CHECK(format_rate(12.3e6) == "12.3 M");
    CHECK(format_rate(950) == "950");
    CHECK(format_rate(999999) == "1.00 M");
    CHECK(format_rate(1.5e9) == "1.50 G");
    CHECK(format_rate(std::numeric_limits<double>::infinity()) == "-");
    CHECK(format_rate(900e3) + " msgs/s" == "900 k msgs/s");
  }

  TEST_CASE("format_units: format_size uses exact binary units, the token --size accepts") {
    CHECK(format_size(64) == "64B");
    CHECK(format_size(4096) == "4KiB");
    CHECK(format_size(1048576) == "1MiB");
    CHECK(format_size(1000) == "1000B");
    CHECK(format_size(1536) == "1536B");
    CHECK(format_size(0) == "0B");
    CHECK(format_size(3ull << 30) == "3GiB");
  }

  TEST_CASE("format_units: format_bytes stays exact while short, else one decimal") {
    CHECK(format_bytes(64) == "64B");
    CHECK(format_bytes(48 * 1024) == "48KiB");
    CHECK(format_bytes(1536) == "1536B");
    CHECK(format_bytes(16'734'175'232) == "15.6GiB");
  }

  TEST_CASE("format_units: figures, numbers and ratios") {
    CHECK(format_figure(64) == "64");
    CHECK(format_figure(12.34) == "12.3");
    CHECK(format_figure(1234.5) == "1234");
    CHECK(format_figure(-1) == "-");
    CHECK(format_number(0.5) == "0.5");
    CHECK(format_number(3600) == "3600");
    CHECK(format_number(1e6) == "1e+06");
    CHECK(format_ratio(1.5) == "1.50x");
    CHECK(format_ratio(13.08) == "13.1x");
    CHECK(format_ratio(150) == "150x");
    CHECK(format_ratio(std::numeric_limits<double>::infinity()) == "-");
  }

  TEST_CASE("format_units: a run's length reads in seconds, then minutes, then hours") {
    CHECK(format_elapsed_s(12.34) == "12.3 s");
    CHECK(format_elapsed_s(0.85) == "850 ms");
    CHECK(format_elapsed_s(0) == "0 s");
    CHECK(format_elapsed_s(185) == "3 min 05 s");
    CHECK(format_elapsed_s(7380) == "2 h 03 min");
    CHECK(format_elapsed_s(-1) == "-");
  }

  TEST_CASE("format_units: a count takes its noun's plural except for one") {
    CHECK(format_count(1, "repetition") == "1 repetition");
    CHECK(format_count(3, "repetition") == "3 repetitions");
    CHECK(format_count(0, "cell") == "0 cells");
  }
}  // TEST_SUITE
