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

TEST_CASE("statistics: regularized incomplete beta matches reference values") {
  // References from mpmath.betainc(a, b, 0, x, regularized=True).
  CHECK(ipcmatrix::regularized_incomplete_beta(2, 3, 0.4) == doctest::Approx(0.5248).epsilon(1e-12));
  CHECK(ipcmatrix::regularized_incomplete_beta(0.5, 0.5, 0.3) ==
        doctest::Approx(0.369010119565545).epsilon(1e-12));
  CHECK(ipcmatrix::regularized_incomplete_beta(10, 20, 0.3) ==
        doctest::Approx(0.364004081071944).epsilon(1e-12));
  CHECK(ipcmatrix::regularized_incomplete_beta(3, 4, 0.0) == 0.0);
  CHECK(ipcmatrix::regularized_incomplete_beta(3, 4, 1.0) == 1.0);
  CHECK(std::isnan(ipcmatrix::regularized_incomplete_beta(-1, 4, 0.5)));
  CHECK(std::isnan(ipcmatrix::regularized_incomplete_beta(1, 4, 1.5)));
}

TEST_CASE("statistics: Student-t two-sided tail matches reference values") {
  CHECK(ipcmatrix::student_t_two_sided_p(1.0, 1.0) == doctest::Approx(0.5).epsilon(1e-12));
  // df = 2 has the closed form 1 - t / sqrt(2 + t^2).
  CHECK(ipcmatrix::student_t_two_sided_p(2.0, 2.0) ==
        doctest::Approx(1.0 - 2.0 / std::sqrt(6.0)).epsilon(1e-12));
  CHECK(ipcmatrix::student_t_two_sided_p(-5.0, 8.0) ==
        doctest::Approx(0.00105282579336654).epsilon(1e-10));
  CHECK(ipcmatrix::student_t_two_sided_p(2.228, 10.0) ==
        doctest::Approx(0.0500117718171114).epsilon(1e-10));
  CHECK(ipcmatrix::student_t_two_sided_p(0.0, 5.0) == doctest::Approx(1.0));
  CHECK(std::isnan(ipcmatrix::student_t_two_sided_p(1.0, 0.0)));
}

TEST_CASE("statistics: Welch p-value of identical samples is 1") {
  const std::vector<double> a{10.1, 10.3, 9.8, 10.0, 10.2};
  CHECK(ipcmatrix::welch_t_test_p(a, a) == doctest::Approx(1.0));
}

TEST_CASE("statistics: Welch p-value of clearly separated samples is below 0.001") {
  const std::vector<double> a{100, 101, 99, 100.5, 99.5, 100.2};
  const std::vector<double> b{120, 121, 119, 120.5, 119.5, 120.2};
  CHECK(ipcmatrix::welch_t_test_p(a, b) < 0.001);
}

TEST_CASE("statistics: Welch p-values match reference values") {
  // References: t and Welch-Satterthwaite df computed in mpmath, p = I_{df/(df+t^2)}(df/2, 1/2).
  const std::vector<double> a1{1, 2, 3, 4, 5};
  const std::vector<double> b1{6, 7, 8, 9, 10};  // t = -5, df = 8
  CHECK(ipcmatrix::welch_t_test_p(a1, b1) == doctest::Approx(0.00105282579336654).epsilon(1e-9));
  const std::vector<double> a2{10.1, 10.3, 9.8, 10.0, 10.2, 9.9};
  const std::vector<double> b2{10.4, 10.9, 10.2, 11.1, 10.6};  // unequal n and variance
  CHECK(ipcmatrix::welch_t_test_p(a2, b2) == doctest::Approx(0.0180872703711319).epsilon(1e-9));
  CHECK(ipcmatrix::welch_t_test_p(b2, a2) == doctest::Approx(0.0180872703711319).epsilon(1e-9));
  const std::vector<double> a3{19.1, 20.3, 20.0, 19.7, 20.9, 19.5, 20.4};
  const std::vector<double> b3{21.2, 20.1, 22.8, 21.9, 20.6};
  CHECK(ipcmatrix::welch_t_test_p(a3, b3) == doctest::Approx(0.0461496864003555).epsilon(1e-9));
}

TEST_CASE("statistics: Welch p-value is 1 when a side has fewer than two values") {
  const std::vector<double> one{1.0};
  const std::vector<double> many{5.0, 6.0, 7.0};
  CHECK(ipcmatrix::welch_t_test_p(one, many) == 1.0);
  CHECK(ipcmatrix::welch_t_test_p(many, std::vector<double>{}) == 1.0);
}

TEST_CASE("statistics: Welch p-value with zero variance on both sides is 0 or 1") {
  const std::vector<double> a{3.0, 3.0, 3.0};
  const std::vector<double> b{4.0, 4.0};
  CHECK(ipcmatrix::welch_t_test_p(a, b) == 0.0);
  CHECK(ipcmatrix::welch_t_test_p(a, a) == 1.0);
}

}  // TEST_SUITE
