// The explicit table of mechanisms. Not static self-registration: static libraries drop
// unreferenced registrars (google/benchmark#1498) and their init order is unspecified.
#include "ipcmatrix/transport/transport.hpp"

namespace ipcmatrix {

extern const TransportSpec kPipeTransport;
extern const TransportSpec kUnixTransport;
extern const TransportSpec kShmTransport;
extern const TransportSpec kTcpTransport;
extern const TransportSpec kBipcMqTransport;
extern const TransportSpec kPosixMqTransport;
extern const TransportSpec kUnixSeqpacketTransport;
extern const TransportSpec kUnixDgramTransport;
extern const TransportSpec kMemfdTransport;
extern const TransportSpec kZmqTransport;
extern const TransportSpec kNngTransport;
extern const TransportSpec kIceoryxTransport;

const std::vector<const TransportSpec*>& all_transports() {
  static const std::vector<const TransportSpec*> kAll{
      &kPipeTransport,
      &kUnixTransport,
      &kShmTransport,
      &kTcpTransport,
      &kBipcMqTransport,
      &kPosixMqTransport,
      &kUnixSeqpacketTransport,
      &kUnixDgramTransport,
      &kMemfdTransport,
      &kZmqTransport,
      &kNngTransport,
      &kIceoryxTransport,
  };
  return kAll;
}

}  // namespace ipcmatrix
