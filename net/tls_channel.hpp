// The server side of one TLS connection: OpenSSL straight over the
// connection's own non-blocking socket, driven by the connection's I/O thread
// (it waits for readiness itself, with the socket's async_wait).
//
// Why not Asio's ssl::stream: it moves every record through a BIO pair and
// a composed operation per read and per write, and hands back one record per
// read. At -P 16 that machinery cost as much node CPU as OpenSSL's record
// work itself (docs/performance.md, "TLS"). Here one read takes every record
// the socket holds (read-ahead: one recv for many records), and one write
// sends all pending replies as one record, straight to the socket.
//
// Not thread-safe: only the connection's I/O thread calls it, and never
// after the socket is closed (its descriptor number may belong to another
// connection by then). OpenSSL writes with write(2), not send(MSG_NOSIGNAL):
// the process must ignore SIGPIPE (authd does). Internal to net/.
#pragma once

#include <cstddef>

#include <boost/system/error_code.hpp>

struct bio_st;
struct ssl_st;
struct ssl_ctx_st;

namespace castellan::net {

// What a step needs next. `want_read`/`want_write`: wait until the socket
// is readable/writable, then repeat the call. `closed`: the client ended TLS
// (its close_notify) or closed TCP under it; our protocol frames every
// message, so a cut cannot pass for a complete one. `failed`: see the error.
enum class tls_step { done, want_read, want_write, closed, failed };

struct tls_io {
  size_t bytes = 0;  // moved before `step` stopped the call
  tls_step step = tls_step::done;
  boost::system::error_code error;  // set with tls_step::failed (OpenSSL's reason)
  // read: the socket's last receive came back short (or EAGAIN) and OpenSSL
  // holds nothing more, so the next read may wait for readiness at once.
  bool drained = false;
};

class tls_channel {
 public:
  // `context` must outlive the channel (the connection keeps it).
  tls_channel(ssl_ctx_st* context, int fd);
  ~tls_channel();
  tls_channel(const tls_channel&) = delete;
  tls_channel& operator=(const tls_channel&) = delete;

  // The server's handshake; `done` once it completed.
  tls_io handshake();
  // Decrypts into [into, into + room) every record that is ready, until the
  // socket has nothing more or the room is full: one receive, like a
  // plaintext read, when the socket holds whole records. Bytes read come
  // back with the step that stopped the reading: a close or failure after
  // some bytes shows again at the next call (a failure is kept and reported
  // by every later call).
  tls_io read(char* into, size_t room);
  // Encrypts and sends [data, data + n): `bytes` is how much went out. After
  // want_write, call again with the rest (the same bytes, any address).
  tls_io write(const char* data, size_t n);
  // Sends our close_notify (not waiting for the client's); `done` once sent.
  tls_io close_notify();
  // Bytes OpenSSL holds that the socket's readiness cannot show.
  bool pending() const;
  ssl_st* native_handle() const { return ssl_; }

 private:
  tls_io outcome(int rc, size_t bytes);
  tls_io classify(int rc, size_t bytes);
  static long note_receive(bio_st* bio, int oper, const char*, size_t len, int, long, int ret,
                           size_t* processed);
  ssl_st* ssl_;
  bool drained_ = false;  // the socket's last receive was short or EAGAIN
  boost::system::error_code failure_;  // the first failure: every later call reports it
};

}  // namespace castellan::net
