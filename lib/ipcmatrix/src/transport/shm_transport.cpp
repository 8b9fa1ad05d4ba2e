// `shm`: the SPSC byte ring (spsc_ring.hpp) in POSIX shared memory through
// Boost.Interprocess. Lifecycle of the segment:
//   1. create(): shm_open(O_CREAT|O_EXCL, 0600) under a random name, size, init header.
//   2. Each end maps it by name and records its pid in the header.
//   3. The second end to open unlinks the name: from then on a crash cannot leak it,
//      the kernel frees the memory when the last mapping goes.
//   4. The Channel unlinks it too (ENOENT is fine) in case an end never opened.
// With --wait eventfd the Channel also makes one eventfd (the consumer sleeps on it, the
// producer writes it: spsc_ring.cpp) and hands each role its own dup, inherited like a
// pipe's ends, so each side may close the other role's copy as it does for every fd spec.
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <fcntl.h>

#include <optional>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/sys/ipc_names.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"
#include "spsc_ring.hpp"

namespace ipcmatrix {
namespace {

namespace bip = boost::interprocess;
// 256 KiB: large enough to stream 1 MiB messages in 64 KiB chunks, small enough that two
// rings stay in a core's L2. A 1 MiB ring measured 3x slower ping-pong here (L2 misses).
constexpr std::size_t kDefaultCapacity = std::size_t{256} << 10;

class ShmChannel final : public Channel {
 public:
  explicit ShmChannel(const ChannelOptions& o) : name_(o.name.empty() ? sys::unique_ipc_name() : o.name), opts_(o) {
    std::size_t cap = o.capacity_bytes ? o.capacity_bytes : kDefaultCapacity;
    if (cap < kMinRingBytes || (cap & (cap - 1)) != 0)
      throw Error("shm", name_, "ring capacity must be a power of two >= " + std::to_string(kMinRingBytes) +
                                    ", got " + std::to_string(cap));
    if (!is_chosen_wait(o.wait))
      throw Error("shm", name_, "wait must be spin, block, hybrid or eventfd, got " + std::string(to_string(o.wait)));
    if (o.wait == Wait::eventfd) {
      efd_[0] = sys::make_eventfd();
      efd_[1] = sys::Fd(::fcntl(efd_[0].get(), F_DUPFD_CLOEXEC, 0));
      if (efd_[1].get() < 0) throw Error(std::error_code(errno, std::generic_category()), "shm", name_, "dup eventfd");
    }
    try {
      bip::permissions perm;
      perm.set_permissions(0600);
      bip::shared_memory_object shm(bip::create_only, name_.c_str(), bip::read_write, perm);
      created_ = true;
      const std::size_t bytes = sizeof(detail::RingHeader) + cap;
      shm.truncate(static_cast<bip::offset_t>(bytes));
      // tmpfs allocates pages on first touch; without this a full /dev/shm is a SIGBUS in
      // whichever process touches the page first. Reserving now makes it an error here.
      sys::reserve_shared_memory(shm.get_mapping_handle().handle, bytes, "shm", name_);
      bip::mapped_region region(shm, bip::read_write);
      detail::init_ring(static_cast<detail::RingHeader*>(region.get_address()), cap, o.wait, o.spin_ns);
    } catch (const bip::interprocess_exception& e) {
      if (created_) bip::shared_memory_object::remove(name_.c_str());
      throw Error(std::error_code(e.get_native_error(), std::generic_category()), "shm", name_,
                  std::string("create: ") + e.what());
    } catch (const Error&) {
      if (created_) bip::shared_memory_object::remove(name_.c_str());
      throw;
    }
  }
  ~ShmChannel() override { bip::shared_memory_object::remove(name_.c_str()); }

  ChannelSpec spec(Role r) const override {
    ChannelSpec s;
    s.mechanism = "shm";
    s.name = name_;
    s.wait = opts_.wait;
    s.fd = efd_[static_cast<int>(r)].get();
    return s;
  }
  ChannelSpec take(Role r) override {
    ChannelSpec s = spec(r);
    s.fd = efd_[static_cast<int>(r)].release();
    return s;
  }
  void close_local_fds() noexcept override {
    efd_[0].reset();
    efd_[1].reset();
  }

 private:
  std::string name_;
  ChannelOptions opts_;
  bool created_ = false;
  sys::Fd efd_[2];  // Wait::eventfd: one eventfd, a copy per Role
};

class ShmTransport final : public Transport {
 public:
  ShmTransport(const ChannelSpec& s, Role role) : efd_(s.fd) {
    if (s.fd >= 0) sys::set_cloexec(s.fd, true);  // do not leak into processes this one spawns
    try {
      bip::shared_memory_object shm(bip::open_only, s.name.c_str(), bip::read_write);
      region_ = bip::mapped_region(shm, bip::read_write);
    } catch (const bip::interprocess_exception& e) {
      throw Error(std::error_code(e.get_native_error(), std::generic_category()), "shm", s.name,
                  std::string("open: ") + e.what());
    }
    auto* h = static_cast<detail::RingHeader*>(region_.get_address());
    detail::check_ring(h, region_.get_size(), s.name);
    if (static_cast<Wait>(h->wait) == Wait::eventfd && efd_.get() < 0)
      throw Error("shm", s.name, "an eventfd ring's spec carries no eventfd");
    end_.emplace(h, role, efd_.get());
    if (end_->peer().mark_open()) bip::shared_memory_object::remove(s.name.c_str());
  }

  IoStatus send(std::span<const std::byte> msg) noexcept override { return end_->write(msg, {}, true); }

  IoStatus send_batch(std::span<const std::span<const std::byte>> msgs) noexcept override {
    for (std::size_t i = 0; i < msgs.size(); i += kBatchChunk) {
      GatherMessage chunk[kBatchChunk];
      const std::size_t n = std::min(kBatchChunk, msgs.size() - i);
      for (std::size_t k = 0; k < n; ++k) chunk[k] = {msgs[i + k], {}};
      if (const IoStatus s = end_->write_batch({chunk, n}); s != IoStatus::ok) return s;
    }
    return IoStatus::ok;
  }

  IoStatus send_gather(std::span<const GatherMessage> msgs) noexcept override {
    if (msgs.size() == 1) return end_->write(msgs[0].head, msgs[0].body, true);
    return end_->write_batch(msgs);
  }

  // The ring sets error_ only when it returns IoStatus::error (what fail() does); no
  // std::error_code is made per message (its constructor is an out-of-line call).
  IoStatus recv(std::span<std::byte> buf, std::size_t& len) noexcept override { return end_->read(buf, len, error_); }

  IoStatus loan(std::size_t len, LoanedSpace& space) noexcept override { return end_->loan(len, space, error_); }

  IoStatus commit(bool publish) noexcept override {
    end_->commit(publish);
    return IoStatus::ok;
  }

  IoStatus publish() noexcept override {
    end_->publish();
    return IoStatus::ok;
  }

  IoStatus peek(MessageView& msg) noexcept override { return end_->peek(msg, overflow_, error_); }

  void release() noexcept override { end_->release(); }

  IoStatus try_recv(std::span<std::byte> buf, std::size_t& len) noexcept override {
    return end_->try_read(buf, len, error_);
  }
  int poll_fd() noexcept override { return efd_.get(); }

 private:
  // send_batch() converts plain messages to gathered ones this many at a time (on the stack).
  static constexpr std::size_t kBatchChunk = 256;
  std::vector<std::byte> overflow_;  // peek(): messages larger than the ring
  sys::Fd efd_;  // Wait::eventfd only
  bip::mapped_region region_;
  std::optional<detail::RingEnd> end_;  // destroyed before region_ and efd_ (declared after)
};

std::unique_ptr<Channel> create(const ChannelOptions& o) { return std::make_unique<ShmChannel>(o); }
std::unique_ptr<Transport> open(const ChannelSpec& s, Role r) {
  return std::make_unique<ShmTransport>(s, r);
}

}  // namespace

extern const TransportSpec kShmTransport{
    "shm",
    "SPSC byte ring in POSIX shared memory (Boost.Interprocess); --wait spin|block|hybrid|eventfd, "
    "--ring-bytes sets capacity",
    Capabilities{.max_msg_bytes = std::size_t{1} << 30, .spin_wait = true, .loan = true, .buffer = BufferKnob::capacity_bytes, .sized_per_cell = true, .in_dev_shm = true},
    &create, &open, nullptr,
    SemanticsCard{
        .pollable = Pollable::opt_in,
        .poll_note = "with --wait eventfd: the ring's eventfd (epoll/Asio can wait on it; after it turns "
                     "readable call try_recv() until would_block, which re-arms it); with spin, block or "
                     "hybrid no fd: the end spins or sleeps on a futex in the ring and an event loop must "
                     "give it a thread",
        .boundaries = Boundaries::kept,
        .when_full = WhenFull::blocks,
        .dead_peer = "nothing in the kernel tells: a waiting end checks the ring's liveness block and the "
                     "peer's pid (pidfd) every ~1000 waits and returns peer_closed after draining; the "
                     "segment was unlinked once both ends mapped it, so it goes with the last mapping",
        .visibility = Visibility::global_name,
        .access = "a 0600 segment in /dev/shm with a random run-scoped name, created O_EXCL",
        .limits = "ring and message size bounded by the free space of /dev/shm (tmpfs size=, remount as "
                  "root to grow)",
    }};

}  // namespace ipcmatrix
