// The one translation unit that includes Boost.Beast (it is slow to compile): sessions for plain HTTP and HTTPS,
// written once as a template over the stream.
#include "server/http/http_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "common/log.hpp"

namespace strata {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = beast::error_code;

std::pair<std::string, std::string> split_listen(const std::string& listen) {
  std::string host, port;
  if (!listen.empty() && listen[0] == '[') {
    auto close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') return {};
    return {listen.substr(1, close - 1), listen.substr(close + 2)};
  }
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return {};
  return {listen.substr(0, colon), listen.substr(colon + 1)};
}

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  HttpServerOptions opt;
  HttpHandler handler;
  asio::io_context ioc;
  std::optional<ssl::context> tls;
  tcp::acceptor acceptor{ioc};
  std::vector<std::thread> threads;
  std::atomic<size_t> conns{0};
  std::atomic<bool> stopping{false};
  std::mutex mu;  // live, stopped
  uint64_t next_id = 1;
  std::map<uint64_t, std::function<void()>> live;  // closes a session's socket (on its strand)
  bool stopped = false;

  Impl(HttpServerOptions o, HttpHandler h) : opt(std::move(o)), handler(std::move(h)), ioc(static_cast<int>(std::max(1u, opt.threads))) {}
  void accept();
  template <class Stream>
  void start_session(Stream&& stream, std::string remote);
};

namespace {

template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  Session(std::shared_ptr<HttpServer::Impl> srv, Stream stream, std::string remote)
      : srv_(std::move(srv)), stream_(std::move(stream)), remote_(std::move(remote)) {}
  ~Session() {
    srv_->conns.fetch_sub(1);
    std::lock_guard lock(srv_->mu);
    srv_->live.erase(id_);
  }

  void start() {
    if (srv_->stopping.load()) return;  // accepted just as the server stopped: dropped
    {
      std::lock_guard lock(srv_->mu);
      id_ = srv_->next_id++;
      std::weak_ptr<Session> weak = this->shared_from_this();
      srv_->live[id_] = [weak] {
        if (auto s = weak.lock()) {
          asio::post(s->stream_.get_executor(), [s] {
            error_code ignored;
            beast::get_lowest_layer(s->stream_).socket().close(ignored);
          });
        }
      };
    }
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
      stream_.async_handshake(ssl::stream_base::server, [self = this->shared_from_this()](error_code ec) {
        if (ec) {
          log::debug("http_tls_handshake_failed", {{"remote", self->remote_}, {"error", ec.message()}});
          return;
        }
        self->read();
      });
    } else {
      read();
    }
  }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(srv_->opt.max_body);
    buf_.clear();
    beast::get_lowest_layer(stream_).expires_after(srv_->opt.idle_timeout);
    http::async_read(stream_, buf_, *parser_, [self = this->shared_from_this()](error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(error_code ec) {
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      return write({413, "{\"error\":\"request body too large\"}"});
    }
    if (ec) return close();  // end of stream, idle timeout, reset: nothing to answer
    auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    HttpRequest r;
    r.method = std::string(req.method_string());
    std::string target(req.target());
    auto q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    r.authorization = std::string(req[http::field::authorization]);
    r.body = std::move(req.body());
    r.remote = remote_;
    // The handler decides how long this request may wait (a long poll); the idle timer is for idle connections.
    beast::get_lowest_layer(stream_).expires_never();
    auto once = std::make_shared<std::atomic<bool>>(false);
    auto self = this->shared_from_this();
    try {
      srv_->handler(std::move(r), [self, once](HttpResponse resp) {
        if (once->exchange(true)) return;
        asio::post(self->stream_.get_executor(), [self, resp = std::move(resp)]() mutable { self->write(std::move(resp)); });
      });
    } catch (const std::exception& e) {
      if (!once->exchange(true)) write({500, std::string("{\"error\":\"internal error\"}")});
      log::error("http_handler_failed", {{"error", e.what()}});
    }
  }

  void write(HttpResponse r) {
    res_ = {};
    res_.version(11);
    res_.result(static_cast<http::status>(r.status));
    res_.set(http::field::server, "strata");
    res_.set(http::field::content_type, r.content_type);
    res_.keep_alive(keep_alive_ && !srv_->stopping.load());
    res_.body() = std::move(r.body);
    res_.prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
    http::async_write(stream_, res_, [self = this->shared_from_this()](error_code ec, size_t) {
      if (ec) return;
      if (!self->res_.keep_alive()) return self->close();
      self->read();
    });
  }

  void close() {
    error_code ignored;
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = this->shared_from_this()](error_code) {
        error_code e;
        beast::get_lowest_layer(self->stream_).socket().close(e);
      });
    } else {
      beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
  }

  std::shared_ptr<HttpServer::Impl> srv_;
  Stream stream_;
  std::string remote_;
  uint64_t id_ = 0;
  beast::flat_buffer buf_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  bool keep_alive_ = false;
};

}  // namespace

template <class Stream>
void HttpServer::Impl::start_session(Stream&& stream, std::string remote) {
  std::make_shared<Session<std::decay_t<Stream>>>(shared_from_this(), std::forward<Stream>(stream), std::move(remote))
      ->start();
}

void HttpServer::Impl::accept() {
  acceptor.async_accept(asio::make_strand(ioc), [self = shared_from_this()](error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
    if (!ec) {
      if (self->conns.fetch_add(1) >= self->opt.max_connections) {
        self->conns.fetch_sub(1);
        log::warn("http_too_many_connections", {{"max", static_cast<uint64_t>(self->opt.max_connections)}});
      } else {
        error_code e;
        auto ep = socket.remote_endpoint(e);
        std::string remote = e ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
        if (self->tls) {
          self->start_session(beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), *self->tls),
                              std::move(remote));
        } else {
          self->start_session(beast::tcp_stream(std::move(socket)), std::move(remote));
        }
      }
    } else {
      log::warn("http_accept_failed", {{"error", ec.message()}});
    }
    self->accept();
  });
}

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(handler))) {
  Impl& s = *impl_;
  if (s.opt.tls_cert.empty() != s.opt.tls_key.empty()) {
    fail(ErrorCode::kUsage, "HTTPS needs both --tls-cert and --tls-key");
  }
  if (!s.opt.tls_cert.empty()) {
    s.tls.emplace(ssl::context::tls_server);
    s.tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    error_code ec;
    s.tls->use_certificate_chain_file(s.opt.tls_cert, ec);
    if (ec) fail(ErrorCode::kUsage, "cannot use TLS certificate " + s.opt.tls_cert + ": " + ec.message());
    s.tls->use_private_key_file(s.opt.tls_key, ssl::context::pem, ec);
    if (ec) fail(ErrorCode::kUsage, "cannot use TLS key " + s.opt.tls_key + ": " + ec.message() +
                                        " (does it match the certificate?)");
  }
  auto [host, port] = split_listen(s.opt.listen);
  error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec || port.empty() || port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5) {
    fail(ErrorCode::kUsage, "--listen '" + s.opt.listen + "' is not HOST:PORT with an IP address (e.g. 127.0.0.1:8443)");
  }
  tcp::endpoint ep(addr, static_cast<uint16_t>(std::stoi(port)));
  s.acceptor.open(ep.protocol(), ec);
  if (!ec) s.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(ep, ec);
  if (!ec) s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) fail(ErrorCode::kGeneric, "cannot listen on " + s.opt.listen + ": " + ec.message());
  s.accept();
  for (unsigned i = 0; i < std::max(1u, s.opt.threads); ++i) {
    s.threads.emplace_back([impl = impl_] { impl->ioc.run(); });
  }
}

HttpServer::~HttpServer() { stop(); }

uint16_t HttpServer::port() const {
  error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}
bool HttpServer::tls() const { return impl_->tls.has_value(); }
size_t HttpServer::connections() const { return impl_->conns.load(); }

void HttpServer::stop() {
  Impl& s = *impl_;
  {
    std::lock_guard lock(s.mu);
    if (s.stopped) return;
    s.stopped = true;
  }
  s.stopping = true;
  std::vector<std::function<void()>> closers;
  {
    std::lock_guard lock(s.mu);
    for (auto& [id, c] : s.live) closers.push_back(c);
  }
  asio::post(s.ioc, [impl = impl_] {
    error_code ignored;
    impl->acceptor.close(ignored);
  });
  for (auto& c : closers) c();
  // No work guard: once the acceptor and every socket are closed, their aborted operations finish and run() returns
  // (a long poll waiting for its answer holds no operation).
  for (auto& t : s.threads) {
    if (t.joinable()) t.join();
  }
}

}  // namespace strata
