#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "ipcmatrix/stats/statistics.hpp"

using ipcmatrix::Spread;

TEST_SUITE("stats") {

TEST_CASE("statistics: median of odd n is the middle value") {
  CHECK(ipcmatrix::median({5.0, 1.0, 3.0}) == 3.0);
  CHECK(ipcmatrix::median({7.0}) == 7.0);
}

TEST_CASE("statistics: median of even n averages the two middle values") {
  CHECK(ipcmatrix::median({4.0, 1.0, 3.0, 2.0}) == 2.5);
  CHECK(ipcmatrix::median({1.0, 1.0, 9.0, 9.0}) == 5.0);
}

TEST_CASE("statistics: median and mean of an empty input are 0") {
  CHECK(ipcmatrix::median({}) == 0.0);
  CHECK(ipcmatrix::mean(std::vector<double>{}) == 0.0);
}

TEST_CASE("statistics: sample stddev uses n - 1 and is 0 for fewer than two values") {
  const std::vector<double> one{42.0};
  CHECK(ipcmatrix::sample_stddev(one) == 0.0);
  CHECK(ipcmatrix::sample_stddev(std::vector<double>{}) == 0.0);
  const std::vector<double> v{2, 4, 4, 4, 5, 5, 7, 9};
  CHECK(ipcmatrix::mean(v) == doctest::Approx(5.0));
  CHECK(ipcmatrix::sample_stddev(v) == doctest::Approx(std::sqrt(32.0 / 7.0)));
}

TEST_CASE("statistics: sample stddev does not cancel for large offsets") {
  const std::vector<double> v{1e12 + 1, 1e12 + 2, 1e12 + 3};
  CHECK(ipcmatrix::sample_stddev(v) == doctest::Approx(1.0));
}

TEST_CASE("statistics: spread reports median, extremes, MAD and relative spread") {
  const std::vector<double> v{10, 11, 9, 10, 12};
  const Spread s = ipcmatrix::spread(v);
  CHECK(s.n == 5);
  CHECK(s.median == 10.0);
  CHECK(s.min == 9.0);
  CHECK(s.max == 12.0);
  CHECK(s.mad == 1.0);  // deviations 0, 1, 1, 0, 2
  CHECK(s.rel_spread == doctest::Approx(0.3));
  CHECK(ipcmatrix::is_noisy(s));
  CHECK_FALSE(ipcmatrix::is_noisy(s, 0.5));
}

TEST_CASE("statistics: spread of empty input is all zero, zero median gives zero rel_spread") {
  const Spread empty = ipcmatrix::spread(std::vector<double>{});
  CHECK(empty.n == 0);
  CHECK(empty.rel_spread == 0.0);
  CHECK_FALSE(ipcmatrix::is_noisy(empty));
  const Spread zero = ipcmatrix::spread(std::vector<double>{-1.0, 0.0, 1.0});
  CHECK(zero.median == 0.0);
  CHECK(zero.rel_spread == 0.0);
}

TEST_CASE("statistics: a single repetition or tight repetitions are not noisy") {
  CHECK_FALSE(ipcmatrix::is_noisy(ipcmatrix::spread(std::vector<double>{100.0})));
  CHECK_FALSE(ipcmatrix::is_noisy(ipcmatrix::spread(std::vector<double>{100.0, 104.0, 98.0})));
  CHECK(ipcmatrix::is_noisy(ipcmatrix::spread(std::vector<double>{100.0, 120.0})));
}

}  // TEST_SUITE
