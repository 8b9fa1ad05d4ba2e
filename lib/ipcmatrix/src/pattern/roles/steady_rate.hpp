#pragma once
/// @file steady_rate.hpp
/// Whether a warming-up sender's rate has settled, so its warm-up may end before its count
/// or cap (roles.hpp kSteadySlices). The rate a sender achieves is the channel's
/// (back-pressure, or the echo of a round trip), so once it holds still the path is warm;
/// a rate that keeps moving runs to the warm-up cap. Fed at the producer's clock reads only;
/// one per producer loop, not thread-safe.

#include <cmath>
#include <cstdint>

#include "ipcmatrix/pattern/roles.hpp"

namespace ipcmatrix::detail {

class SteadyRate {
 public:
  /// `sent` messages had been sent at `now` (ns). True once kSteadySlices consecutive slices
  /// of at least kSteadySliceNs agree on the time per message within kSteadyTolerance.
  [[nodiscard]] bool steady_at(std::int64_t now, std::uint64_t sent) noexcept {
    if (!started_) {
      started_ = true;
      slice_t0_ = now;
      slice_sent0_ = sent;
      return false;
    }
    if (now - slice_t0_ < kSteadySliceNs || sent == slice_sent0_) return false;
    const double per = static_cast<double>(now - slice_t0_) / static_cast<double>(sent - slice_sent0_);
    agreeing_ = prev_per_ > 0 && std::abs(per - prev_per_) <= kSteadyTolerance * prev_per_ ? agreeing_ + 1 : 0;
    prev_per_ = per;
    slice_t0_ = now;
    slice_sent0_ = sent;
    return agreeing_ + 1 >= kSteadySlices;
  }

 private:
  bool started_ = false;
  std::int64_t slice_t0_ = 0;
  std::uint64_t slice_sent0_ = 0;
  double prev_per_ = 0;
  int agreeing_ = 0;  // consecutive slices that agreed with the one before
};

}  // namespace ipcmatrix::detail
