#pragma once
// A Channel that is nothing but one fd per role, both made by the coordinator and
// inherited by the workers (pipe, memfd): no name to leak, and the kernel frees the object
// when the last fd closes, which is also how each side learns the other is gone.

#include <string>
#include <string_view>

#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/transport/transport.hpp"

namespace ipcmatrix::detail {

class FdPairChannel final : public Channel {
 public:
  FdPairChannel(std::string_view mechanism, sys::Fd sender, sys::Fd receiver) : mechanism_(mechanism) {
    fds_[static_cast<int>(Role::sender)] = std::move(sender);
    fds_[static_cast<int>(Role::receiver)] = std::move(receiver);
  }
  ChannelSpec spec(Role r) const override {
    ChannelSpec s;
    s.mechanism = mechanism_;
    s.fd = fds_[static_cast<int>(r)].get();
    return s;
  }
  ChannelSpec take(Role r) override {
    ChannelSpec s = spec(r);
    s.fd = fds_[static_cast<int>(r)].release();
    return s;
  }
  void close_local_fds() noexcept override {
    fds_[0].reset();
    fds_[1].reset();
  }

 private:
  std::string mechanism_;
  sys::Fd fds_[2];
};

}  // namespace ipcmatrix::detail
