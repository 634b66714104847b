// Beast HTTP/1.1 server for the monitor; see http_endpoint.hpp. GET only,
// keep-alive, requests limited to 8 KiB, one thread.
#include "monitor/http_endpoint.hpp"

#include <optional>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace castellan::monitor {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

class session : public std::enable_shared_from_this<session> {
 public:
  session(tcp::socket socket, const http_handler& handler)
      : stream_(std::move(socket)), handler_(handler) {}

  void read() {
    parser_.emplace();
    parser_->header_limit(8 * 1024);
    parser_->body_limit(8 * 1024);
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (!ec)
                         self->respond();
                     });
  }

 private:
  void respond() {
    auto& req = parser_->get();
    http::response<http::string_body> res;
    res.version(req.version());
    res.keep_alive(req.keep_alive());
    res.set(http::field::server, "castellan");
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      res.result(http::status::method_not_allowed);
      res.set(http::field::content_type, "text/plain");
      res.body() = "GET only\n";
    } else {
      std::string target(req.target());
      auto out = handler_(target.substr(0, target.find('?')));
      res.result(static_cast<http::status>(out.status));
      res.set(http::field::content_type, out.content_type);
      if (req.method() == http::verb::get)
        res.body() = std::move(out.body);
    }
    res.prepare_payload();
    response_ = std::move(res);
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (!ec && self->response_.keep_alive())
        self->read();
      else
        self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  const http_handler& handler_;
};

}  // namespace

struct http_endpoint::impl {
  std::string host;
  uint16_t port = 0;
  http_handler handler;
  asio::io_context io{1};
  std::unique_ptr<tcp::acceptor> acceptor;
  std::thread thread;

  void accept() {
    acceptor->async_accept([this](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted)
        return;
      if (!ec)
        std::make_shared<session>(std::move(s), handler)->read();
      accept();
    });
  }
};

http_endpoint::http_endpoint(std::string host, uint16_t port, http_handler handler)
    : impl_(std::make_unique<impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->handler = std::move(handler);
}

http_endpoint::~http_endpoint() { stop(); }

uint16_t http_endpoint::start() {
  tcp::endpoint ep(asio::ip::make_address(impl_->host), impl_->port);
  impl_->acceptor = std::make_unique<tcp::acceptor>(impl_->io);
  impl_->acceptor->open(ep.protocol());
  impl_->acceptor->set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor->bind(ep);
  impl_->acceptor->listen();
  impl_->accept();
  impl_->thread = std::thread([this] { impl_->io.run(); });
  return impl_->acceptor->local_endpoint().port();
}

void http_endpoint::stop() {
  if (!impl_->thread.joinable())
    return;
  impl_->io.stop();
  impl_->thread.join();
}

}  // namespace castellan::monitor
