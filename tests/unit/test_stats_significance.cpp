#include <doctest/doctest.h>

#include <vector>

#include "ipcmatrix/stats/significance.hpp"

using namespace ipcmatrix;

TEST_SUITE("stats") {

TEST_CASE("mann-whitney: exact p for small samples matches the permutation distribution") {
  const std::vector<double> low{1, 2, 3}, high{4, 5, 6};
  MannWhitney m = mann_whitney(low, high);
  CHECK(m.exact);
  CHECK(m.u == doctest::Approx(0));
  CHECK(m.p_value == doctest::Approx(2.0 / 20));  // the two most extreme of 20 splits
  CHECK(mann_whitney(high, low).p_value == doctest::Approx(0.1));
  CHECK(mann_whitney(high, low).u == doctest::Approx(9));

  // Interleaved: 14 of the 20 splits lie as far from the mean rank sum.
  CHECK(mann_whitney(std::vector<double>{1, 3, 5}, std::vector<double>{2, 4, 6}).p_value == doctest::Approx(0.7));
  CHECK(mann_whitney(std::vector<double>{1, 2, 3, 4, 5}, std::vector<double>{6, 7, 8, 9, 10}).p_value ==
        doctest::Approx(2.0 / 252));
  // Identical samples: nothing to tell apart.
  CHECK(mann_whitney(std::vector<double>{5, 5, 5}, std::vector<double>{5, 5, 5}).p_value == doctest::Approx(1));
  CHECK(mann_whitney(std::vector<double>{}, std::vector<double>{1.0}).p_value == 1);
}

TEST_CASE("mann-whitney: large samples use the normal approximation with continuity correction") {
  std::vector<double> a, b;
  for (int i = 1; i <= 20; ++i) {
    a.push_back(i);
    b.push_back(20 + i);
  }
  const MannWhitney m = mann_whitney(a, b);
  CHECK_FALSE(m.exact);
  // R: wilcox.test(1:20, 21:40, exact = FALSE, correct = TRUE)$p.value = 6.796e-08
  CHECK(m.p_value == doctest::Approx(6.796e-08).epsilon(0.01));
}

TEST_CASE("significance: which sample sizes can reach the level at all") {
  CHECK(testable(3, 3));
  CHECK(testable(5, 3));
  CHECK_FALSE(testable(2, 2));
  CHECK_FALSE(testable(2, 4));
  CHECK_FALSE(testable(1, 10));
  CHECK_FALSE(testable(1, 1));
  CHECK_FALSE(testable(0, 5));
}

TEST_CASE("significance: clearly apart means 2x in every repetition, over 2 or more each") {
  CHECK(clearly_apart(std::vector<double>{20, 22}, std::vector<double>{10, 9}, /*higher_is_better=*/true));
  CHECK_FALSE(clearly_apart(std::vector<double>{20, 22}, std::vector<double>{10, 11}, true));  // 20 < 2 x 11
  CHECK(clearly_apart(std::vector<double>{100, 110}, std::vector<double>{220, 300}, /*higher_is_better=*/false));
  CHECK_FALSE(clearly_apart(std::vector<double>{100, 110}, std::vector<double>{219, 300}, false));
  CHECK_FALSE(clearly_apart(std::vector<double>{100}, std::vector<double>{1}, true));  // one repetition
  CHECK_FALSE(clearly_apart(std::vector<double>{100, 100}, std::vector<double>{0, 0}, true));  // not positive
}

TEST_CASE("significance: far apart means 3x in every repetition, from one each") {
  CHECK(far_apart(std::vector<double>{30}, std::vector<double>{10}, /*higher_is_better=*/true));
  CHECK_FALSE(far_apart(std::vector<double>{29}, std::vector<double>{10}, true));
  CHECK(far_apart(std::vector<double>{10}, std::vector<double>{30, 31}, /*higher_is_better=*/false));
  CHECK_FALSE(far_apart(std::vector<double>{10, 11}, std::vector<double>{32, 31}, false));  // 31 < 3 x 11
  CHECK_FALSE(far_apart(std::vector<double>{}, std::vector<double>{1}, true));
  CHECK_FALSE(far_apart(std::vector<double>{30}, std::vector<double>{0}, true));  // not positive
}

TEST_CASE("significance: a difference needs both the threshold and the test") {
  // 20% apart and fully separated: differs.
  FigureComparison c = compare_figures(std::vector<double>{100, 101, 102}, std::vector<double>{120, 121, 122}, 0.10);
  CHECK(c.differs);
  REQUIRE(c.p_value.has_value());
  CHECK(*c.p_value == doctest::Approx(0.1));
  CHECK(c.ratio == doctest::Approx(121.0 / 101));
  // Fully separated but only 2% apart: below the threshold, a tie.
  CHECK_FALSE(compare_figures(std::vector<double>{100, 101, 102}, std::vector<double>{103, 104, 105}, 0.10).differs);
  // 20% apart in the medians, but the repetitions overlap: noise, a tie.
  c = compare_figures(std::vector<double>{100, 130, 101}, std::vector<double>{121, 99, 122}, 0.10);
  CHECK_FALSE(c.differs);
  CHECK(*c.p_value > kSignificanceLevel);
  // One repetition a side cannot be tested: the threshold alone decides, with no p.
  c = compare_figures(std::vector<double>{100}, std::vector<double>{150}, 0.10);
  CHECK(c.differs);
  CHECK_FALSE(c.p_value.has_value());
}

}  // TEST_SUITE
