#pragma once
// The message libraries bare, for bench_matrix_vs_bare: ZeroMQ through cppzmq and nng through
// its C API, each used the way its documentation shows (a PUSH socket connected to a PULL
// socket bound to an ipc:// path, blocking send and receive into the caller's buffer,
// library defaults), between two forked processes pinned to cpu_a (sender) and cpu_b, with
// nothing of ipc-matrix in between: no liveness pipes, no end marker, no ack. The matrix's
// figure for the `zmq` and `nng` mechanisms is held against these.
//
// Only what a measurement needs is added: nng's receive size limit lifted (its 1 MiB default
// refuses a 1 MiB body plus the envelope), and a pipe the sender waits on before it closes
// its socket, since either library may lose what is still queued when a sender closes (see
// src/transport/library_transport.hpp); that wait is outside the measured window.
//
// Each measurement runs in a fresh copy of this binary (re-executed, like the matrix's
// workers), which forks the two processes: nng cannot be used in a process forked from one
// that used it, and the matrix's coordinator, this binary, opens a sending end itself (the
// idle probe). main() must call maybe_run_library_bare() first.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ipcmatrix::bench {

/// Runs the bare measurement this binary was re-executed for and returns its exit code, or
/// -1 when argv asks for none. Call it first in main().
[[nodiscard]] int maybe_run_library_bare(int argc, char** argv);

/// Whether `mechanism` has a bare loop here (zmq, nng).
[[nodiscard]] bool has_library_bare(std::string_view mechanism) noexcept;

/// msgs/s of a stream of `size`-byte messages (at least 8: each carries its sequence number in
/// its first 8 bytes, which the receiver checks) sent for `cap_ns`, over the receiver's window
/// from its first message to its last batch boundary, as bare_stream() measures a transport.
/// nullopt when a child failed or the order broke.
[[nodiscard]] std::optional<double> library_bare_stream(std::string_view mechanism, std::size_t size, int cpu_a,
                                                        int cpu_b, std::int64_t cap_ns);

/// Median round trip (ns) of `size`-byte messages over two PUSH -> PULL channels, one each way,
/// over `rounds` after a tenth as many of warm-up. nullopt when a child failed.
[[nodiscard]] std::optional<double> library_bare_pingpong_p50_ns(std::string_view mechanism, std::size_t size,
                                                                 std::uint64_t rounds, int cpu_a, int cpu_b);

}  // namespace ipcmatrix::bench
