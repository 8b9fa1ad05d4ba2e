// `iceoryx`: Eclipse iceoryx 2.0 publish/subscribe (Debian's libiceoryx-posh), zero-copy through
// the mempools of a RouDi daemon (iceoryx_roudi.hpp: who starts it, with which pools).
//
// One channel is one service {"ipcm", <run-scoped unique name>, "ch"} with one untyped
// publisher (the sender) and one untyped subscriber (the receiver). Loss-free back-pressure,
// which iceoryx does not do by default (its default drops the oldest queued sample):
//   - PublisherOptions::subscriberTooSlowPolicy = WAIT_FOR_CONSUMER and
//     SubscriberOptions::queueFullPolicy = BLOCK_PRODUCER: a full queue (kQueueDepth messages)
//     makes publish() wait inside iceoryx (a busy loop with yield) until the subscriber takes one;
//   - historyCapacity 0: nothing is replayed, nothing kept twice;
//   - the first send waits (bounded by open_timeout_ms) until the publisher has its subscriber:
//     iceoryx connects the two asynchronously through RouDi, and a message published before
//     that is delivered to nobody. open() itself never waits, so two processes may open their
//     sending ends first (ping-pong) without deadlock;
//   - a loan that finds its mempool empty (chunks held by queues) waits and retries.
// loan()/commit() are the publisher's loan()/publish() (commit publishes at once, whatever its
// `publish` flag: iceoryx publishes chunk by chunk, nothing is gained by holding them);
// peek()/release() are take()/release(), the message viewed in the chunk. send(),
// send_gather() and recv() copy into or out of a chunk.
//
// Waiting (receiver): Wait::spin polls hasData(); block waits on a WaitSet attached to the
// subscriber's HAS_DATA state (a semaphore in RouDi's shared memory); hybrid (and eventfd,
// which iceoryx has no fd for) spins spin_ns, then the WaitSet. Every wait is one slice of
// kSliceMs at most. The sender waits inside iceoryx, whatever the Wait.
//
// A dead or closed peer, from both ends, in bounded time: iceoryx tells a subscriber nothing
// when its publisher goes, and a publisher only that it has no subscriber any more (after RouDi,
// which watches its clients by keep-alive, removed a dead one: 1.5 s). So the Channel makes two
// liveness pipes, as unix-dgram makes one: each end holds the write end of its own (ChannelSpec::
// fd) and the read end of its peer's (aux_fd), which hangs up when the peer closes or dies.
// The receiver looks at it after each empty slice, then drains what is queued (everything a
// closed sender published is in the queue before its pipe closes) and reports peer_closed.
// The sender looks every kLivenessEvery messages and while it waits; a publish() blocked on a
// dead subscriber's full queue returns once RouDi removes the queue.
//
// One shared endpoint: several processes may open the same sending spec; each makes its own
// publisher on the channel's service (iceoryx is n:m), so each sender's messages stay whole and
// in its order, and all of them hold the write end of the one liveness pipe, which hangs up
// only when the last is gone.
//
// One iceoryx runtime per process (PoshRuntime is a process-wide singleton, registered with
// RouDi under a name): made at the first open(), named kRuntimePrefix<pid>-<random>. A process
// forked from one that has a runtime cannot use iceoryx (the copy would speak for its parent):
// open() there is an Error. Workers are exec'd, and tests open ends only in forked children.
#include <poll.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <iceoryx_hoofs/log/logmanager.hpp>
#include <iceoryx_posh/mepoo/chunk_header.hpp>
#include <iceoryx_posh/popo/untyped_publisher.hpp>
#include <iceoryx_posh/popo/untyped_subscriber.hpp>
#include <iceoryx_posh/popo/wait_set.hpp>
#include <iceoryx_posh/runtime/posh_runtime.hpp>
#include <mutex>
#include <optional>
#include <thread>

#include "ipcmatrix/error.hpp"
#include "ipcmatrix/sys/ipc_names.hpp"
#include "ipcmatrix/sys/posix.hpp"
#include "ipcmatrix/sys/process.hpp"
#include "ipcmatrix/transport/iceoryx_roudi.hpp"
#include "ipcmatrix/transport/transport.hpp"

namespace ipcmatrix {
namespace {

constexpr std::string_view kName = "iceoryx";
constexpr std::int64_t kSliceMs = 20;          // longest single wait before a look at the peer
constexpr std::uint64_t kLivenessEvery = 16;   // sends between two looks at the receiver's pipe
constexpr std::int64_t kLoanRetryNs = 50'000;  // nap of a sender whose mempool is empty

std::mutex g_runtime_mu;
int g_runtime_pid = 0;  // the process that made this process image's runtime

void ensure_runtime() {
  const std::lock_guard l(g_runtime_mu);
  const int self = sys::current_pid();
  if (g_runtime_pid == self) return;
  if (g_runtime_pid != 0)
    throw Error(kName, "runtime",
                "this process was forked from one that has an iceoryx runtime (process " +
                    std::to_string(g_runtime_pid) +
                    "); iceoryx allows one runtime per process, made once: open iceoryx ends in a process that "
                    "did not inherit one (exec it, or fork before the parent opens any)");
  if (!iceoryx::roudi_reachable())
    throw Error(std::make_error_code(std::errc::connection_refused), kName, iceoryx::kRoudiSocket,
                "no RouDi daemon is running (the runner starts one for a run with iceoryx cells)");
  iox::log::LogManager::GetLogManager().SetDefaultLogLevel(iox::log::LogLevel::kWarn,
                                                           iox::log::LogLevelOutput::kHideLogLevel);
  const std::string name =
      std::string(iceoryx::kRuntimePrefix) + std::to_string(self) + "-" + sys::random_id().substr(0, 8);
  iox::runtime::PoshRuntime::initRuntime(iox::RuntimeName_t(iox::cxx::TruncateToCapacity, name.c_str()));
  g_runtime_pid = self;
}

iox::capro::ServiceDescription service_of(const std::string& name) {
  using Id = iox::capro::IdString_t;
  if (name.empty() || name.size() > Id::capacity()) throw Error(kName, name, "bad service name");
  return {Id(iox::cxx::TruncateToCapacity, "ipcm"), Id(iox::cxx::TruncateToCapacity, name.c_str()),
          Id(iox::cxx::TruncateToCapacity, "ch")};
}

/// True when the peer's liveness pipe is hung up (or readable: nobody writes to it).
bool hung_up(int fd) noexcept {
  pollfd p{fd, POLLIN, 0};
  return sys::retry_eintr([&] { return ::poll(&p, 1, 0); }) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

/// Owns the two liveness pipes; names nothing in the file system (the service lives in RouDi).
class IceoryxChannel final : public Channel {
 public:
  explicit IceoryxChannel(const ChannelOptions& o) : name_(o.name.empty() ? sys::unique_ipc_name() : o.name), opts_(o) {
    (void)service_of(name_);
    sys::make_pipe(alive_r_[0], alive_w_[0]);  // [Role::sender]: the sender holds the write end
    sys::make_pipe(alive_r_[1], alive_w_[1]);  // [Role::receiver]
  }
  ChannelSpec spec(Role r) const override {
    const int self = static_cast<int>(r);
    ChannelSpec s;
    s.mechanism = std::string(kName);
    s.name = name_;
    s.wait = opts_.wait;
    s.spin_ns = opts_.spin_ns;
    s.open_timeout_ms = opts_.open_timeout_ms;
    s.fd = alive_w_[self].get();          // this end's own: closing it tells the peer
    s.aux_fd = alive_r_[1 - self].get();  // the peer's, watched
    return s;
  }
  ChannelSpec take(Role r) override {
    const int self = static_cast<int>(r);
    ChannelSpec s = spec(r);
    s.fd = alive_w_[self].release();
    s.aux_fd = alive_r_[1 - self].release();
    return s;
  }
  void close_local_fds() noexcept override {
    for (auto* fds : {&alive_r_, &alive_w_})
      for (sys::Fd& fd : *fds) fd.reset();
  }

 private:
  std::string name_;
  ChannelOptions opts_;
  std::array<sys::Fd, 2> alive_r_, alive_w_;
};

/// What both ends share: the liveness fds, adopted from the spec.
class IceoryxEnd : public Transport {
 protected:
  IceoryxEnd(const ChannelSpec& s, Role r) : open_timeout_ms_(s.open_timeout_ms) {
    if (s.fd < 0 || s.aux_fd < 0) throw Error(kName, to_string(r), "channel spec carries no liveness pipe fds");
    own_.reset(s.fd);
    peer_.reset(s.aux_fd);
    // A copy in a process this one spawns would hide this end's death from its peer.
    sys::set_cloexec(own_.get(), true);
    sys::set_cloexec(peer_.get(), true);
    ensure_runtime();
  }
  [[nodiscard]] bool peer_gone() noexcept {
    if (!peer_gone_) peer_gone_ = hung_up(peer_.get());
    return peer_gone_;
  }

  std::int64_t open_timeout_ms_;
  bool peer_gone_ = false;
  sys::Fd own_;  ///< destroyed after the port (declared first): the peer sees the end last
  sys::Fd peer_;
};

class IceoryxSender final : public IceoryxEnd {
 public:
  explicit IceoryxSender(const ChannelSpec& s) : IceoryxEnd(s, Role::sender) {
    iox::popo::PublisherOptions o;
    o.historyCapacity = 0;
    o.subscriberTooSlowPolicy = iox::popo::ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER;
    pub_.emplace(service_of(s.name), o);
  }
  ~IceoryxSender() override {
    if (pending_ != nullptr) pub_->release(pending_);
  }

  IoStatus recv(std::span<std::byte>, std::size_t& len) noexcept override {
    len = 0;
    return fail(std::make_error_code(std::errc::operation_not_supported));  // a sending end
  }
  IoStatus send(std::span<const std::byte> msg) noexcept override {
    LoanedSpace space;
    if (const IoStatus st = loan(msg.size(), space); st != IoStatus::ok) return st;
    if (!msg.empty()) std::memcpy(space.first.data(), msg.data(), msg.size());
    return commit(true);
  }
  IoStatus send_gather(std::span<const GatherMessage> msgs) noexcept override {
    for (const GatherMessage& m : msgs) {
      LoanedSpace space;
      if (const IoStatus st = loan(m.size(), space); st != IoStatus::ok) return st;
      space.write(0, m.head);
      space.write(m.head.size(), m.body);
      if (const IoStatus st = commit(true); st != IoStatus::ok) return st;
    }
    return IoStatus::ok;
  }

  IoStatus loan(std::size_t len, LoanedSpace& space) noexcept override {
    if (len > iceoryx::kMaxMessageBytes) return fail(std::make_error_code(std::errc::message_size));
    if (const IoStatus st = connect(); st != IoStatus::ok) return st;
    for (;;) {
      auto r = pub_->loan(static_cast<std::uint32_t>(len));
      if (!r.has_error()) {
        pending_ = r.value();
        pending_len_ = len;
        space = {{static_cast<std::byte*>(pending_), len}, {}};
        return IoStatus::ok;
      }
      switch (r.get_error()) {
        case iox::popo::AllocationError::RUNNING_OUT_OF_CHUNKS:
        case iox::popo::AllocationError::TOO_MANY_CHUNKS_ALLOCATED_IN_PARALLEL:
          // Every chunk of the pool sits in a queue: back-pressure, like a full ring.
          if (peer_gone()) return IoStatus::peer_closed;
          std::this_thread::sleep_for(std::chrono::nanoseconds(kLoanRetryNs));
          continue;
        case iox::popo::AllocationError::NO_MEMPOOLS_AVAILABLE:
        case iox::popo::AllocationError::INVALID_PARAMETER_FOR_USER_PAYLOAD_OR_USER_HEADER:
          // No pool of RouDi's config holds a chunk this large.
          return fail(std::make_error_code(std::errc::message_size));
        default:
          return fail(std::make_error_code(std::errc::not_enough_memory));
      }
    }
  }
  IoStatus commit(bool) noexcept override {
    pub_->publish(pending_);  // may wait for room in the subscriber's queue (WAIT_FOR_CONSUMER)
    pending_ = nullptr;
    if (++sent_ % kLivenessEvery == 0 && peer_gone()) return IoStatus::peer_closed;
    return IoStatus::ok;
  }

 private:
  /// Before the first message: until the subscriber is connected (or gone), bounded.
  IoStatus connect() noexcept {
    if (connected_) return peer_gone_ ? IoStatus::peer_closed : IoStatus::ok;
    const std::int64_t deadline = sys::monotonic_ns() + open_timeout_ms_ * 1'000'000;
    while (!pub_->hasSubscribers()) {
      if (peer_gone()) return IoStatus::peer_closed;
      if (sys::monotonic_ns() > deadline) return fail(std::make_error_code(std::errc::timed_out));
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    connected_ = true;
    return IoStatus::ok;
  }

  std::optional<iox::popo::UntypedPublisher> pub_;
  void* pending_ = nullptr;
  std::size_t pending_len_ = 0;
  std::uint64_t sent_ = 0;
  bool connected_ = false;
};

class IceoryxReceiver final : public IceoryxEnd {
 public:
  explicit IceoryxReceiver(const ChannelSpec& s) : IceoryxEnd(s, Role::receiver), wait_(s.wait), spin_ns_(s.spin_ns) {
    iox::popo::SubscriberOptions o;
    o.queueCapacity = iceoryx::kQueueDepth;
    o.historyRequest = 0;
    o.queueFullPolicy = iox::popo::QueueFullPolicy::BLOCK_PRODUCER;
    sub_ = std::make_unique<iox::popo::UntypedSubscriber>(service_of(s.name), o);
    if (wait_ != Wait::spin) {
      waitset_ = std::make_unique<iox::popo::WaitSet<>>();
      if (waitset_->attachState(*sub_, iox::popo::SubscriberState::HAS_DATA).has_error())
        throw Error(kName, s.name, "cannot attach the subscriber to a WaitSet");
    }
  }
  ~IceoryxReceiver() override {
    release();
    if (peer_gone_) {
      // iceoryx 2.0 guards a subscriber's queue with a mutex in shared memory that a publisher
      // killed inside publish() keeps for ever (eclipse-iceoryx/iceoryx#325, #1711): detaching
      // the WaitSet would wait on it. A receiver whose sender is gone leaves its WaitSet and
      // subscriber to the end of the process (RouDi reclaims the port with the process).
      (void)waitset_.release();
      (void)sub_.release();
      return;
    }
    waitset_.reset();  // detaches before the subscriber goes
    sub_.reset();
  }

  IoStatus send(std::span<const std::byte>) noexcept override {
    return fail(std::make_error_code(std::errc::operation_not_supported));  // a receiving end
  }
  IoStatus recv(std::span<std::byte> buf, std::size_t& len) noexcept override {
    len = 0;
    const void* p = nullptr;
    if (const IoStatus st = next(p); st != IoStatus::ok) return st;
    const std::size_t n = iox::mepoo::ChunkHeader::fromUserPayload(p)->userPayloadSize();
    if (n > buf.size()) {
      sub_->release(p);
      return fail(std::make_error_code(std::errc::message_size));
    }
    if (n) std::memcpy(buf.data(), p, n);
    sub_->release(p);
    len = n;
    return IoStatus::ok;
  }
  IoStatus peek(MessageView& msg) noexcept override {
    const void* p = nullptr;
    if (const IoStatus st = next(p); st != IoStatus::ok) return st;
    held_ = p;
    msg = {{static_cast<const std::byte*>(p), iox::mepoo::ChunkHeader::fromUserPayload(p)->userPayloadSize()}, {}};
    return IoStatus::ok;
  }
  void release() noexcept override {
    if (held_ != nullptr) sub_->release(held_);
    held_ = nullptr;
  }

 private:
  /// The next message's payload, waiting in slices; peer_closed once the sender is gone and
  /// its queue is drained.
  IoStatus next(const void*& p) noexcept {
    for (;;) {
      auto r = sub_->take();
      if (!r.has_error()) {
        p = r.value();
        return IoStatus::ok;
      }
      if (r.get_error() != iox::popo::ChunkReceiveResult::NO_CHUNK_AVAILABLE)
        return fail(std::make_error_code(std::errc::no_buffer_space));  // release() was not called
      if (peer_gone_) return IoStatus::peer_closed;                     // drained after the pipe hung up
      if (!wait_slice()) (void)peer_gone();                             // then one more take: what it sent is queued
    }
  }

  /// Waits up to one slice for data; false when none came.
  bool wait_slice() noexcept {
    const std::int64_t now = sys::monotonic_ns();
    const std::int64_t spin_until = now + (wait_ == Wait::spin    ? kSliceMs * 1'000'000
                                           : wait_ == Wait::block ? 0
                                                                  : spin_ns_);
    while (sys::monotonic_ns() < spin_until) {
      if (sub_->hasData()) return true;
      sys::cpu_relax();
    }
    if (wait_ == Wait::spin) return sub_->hasData();
    (void)waitset_->timedWait(iox::units::Duration::fromMilliseconds(kSliceMs));
    return sub_->hasData();
  }

  Wait wait_;
  std::int64_t spin_ns_;
  std::unique_ptr<iox::popo::UntypedSubscriber> sub_;
  std::unique_ptr<iox::popo::WaitSet<>> waitset_;
  const void* held_ = nullptr;
};

std::unique_ptr<Channel> create(const ChannelOptions& o) { return std::make_unique<IceoryxChannel>(o); }

std::unique_ptr<Transport> open(const ChannelSpec& s, Role r) {
  if (r == Role::sender) return std::make_unique<IceoryxSender>(s);
  return std::make_unique<IceoryxReceiver>(s);
}

}  // namespace

extern const TransportSpec kIceoryxTransport{
    "iceoryx",
    "Eclipse iceoryx 2.0 publish/subscribe, zero-copy in RouDi's shared-memory mempools (a RouDi the runner "
    "starts and stops); loss-free: WAIT_FOR_CONSUMER + BLOCK_PRODUCER, queue of 16",
    Capabilities{.max_msg_bytes = iceoryx::kMaxMessageBytes, .spin_wait = true, .loan = true, .shared_sender = true},
    &create,
    &open,
    nullptr,
    SemanticsCard{
        .pollable = Pollable::none,
        .poll_note = "no fd: a receiver waits on iceoryx's own WaitSet or Listener (a semaphore in RouDi's shared "
                     "memory), which can hold other iceoryx events but not an fd; spin polls hasData()",
        .boundaries = Boundaries::kept,
        .when_full = WhenFull::blocks,
        .dead_peer = "iceoryx tells a subscriber nothing when its publisher goes; ipc-matrix adds a liveness pipe "
                     "each way: the receiver drains the queue and reports peer_closed within one 20 ms slice, the "
                     "sender within 16 messages, or once RouDi's keep-alive check (1.5 s) removes a dead "
                     "subscriber whose full queue blocked it",
        .visibility = Visibility::global_name,
        .access = "any process of the same user (or group) that reaches RouDi (/tmp/roudi) and knows the service "
                  "name; the data lives in /dev/shm/iceoryx_mgmt and /dev/shm/<user>, mode 0660",
        .limits = "needs the RouDi daemon (one per machine: fixed names in /dev/shm and /tmp); messages up to the "
                  "largest mempool of its config (ipc-matrix: 4 MiB, pools fitted to the run's cells), a queue of "
                  "16 per subscriber (iceoryx's default policy drops the oldest when full: ipc-matrix sets "
                  "WAIT_FOR_CONSUMER + BLOCK_PRODUCER); 300 processes, 512 publishers, 1024 subscribers per RouDi",
    }};

}  // namespace ipcmatrix
