#pragma once
// The control plane's HTTP(S) server (issue 15 part 5; docs/ARCHITECTURE.md "The HTTP layer"): Boost.Beast on
// asio, a fixed number of I/O threads whatever the number of connections, so thousands of agents can each hold an
// idle long poll. A handler answers through a callback it may call later and from any thread (a long-poll claim
// answers when a job becomes claimable or its wait ends); the callback is what keeps the poll open, not a thread.
// Beast stays inside http_server.cpp: it is slow to compile, and nothing else needs its types.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace strata {

struct HttpServerOptions {
  std::string listen = "127.0.0.1:8443";  // host:port (IPv4 or [IPv6]); port 0 = any free one (see port())
  unsigned threads = 2;                   // I/O threads
  std::string tls_cert, tls_key;          // PEM files; both set = HTTPS only, neither = plain HTTP
  size_t max_body = 1 << 20;              // larger requests get 413
  std::chrono::seconds idle_timeout{120};  // a connection with no request in progress for this long is closed
  size_t max_connections = 20000;          // beyond it new connections are closed at once
};

struct HttpRequest {
  std::string method;         // "GET", "POST"
  std::string path;           // "/v1/jobs/7/heartbeat" (without the query)
  std::string query;          // after '?', "" if none
  std::string authorization;  // the Authorization header's value
  std::string body;
  std::string remote;         // "127.0.0.1:53122", for logs
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

// Call exactly once, from any thread, at any time; a response to a connection that is gone is dropped.
using HttpRespond = std::function<void(HttpResponse)>;
using HttpHandler = std::function<void(HttpRequest, HttpRespond)>;

class HttpServer {
 public:
  // Binds and starts serving. Throws StrataError (kUsage: bad address, unreadable or mismatched TLS files; kGeneric:
  // the address cannot be bound, naming it).
  HttpServer(HttpServerOptions options, HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const;  // the bound port
  bool tls() const;
  size_t connections() const;
  // Stops accepting, closes every connection and joins the I/O threads. Idempotent.
  void stop();

  struct Impl;  // http_server.cpp (public so its sessions can name it)

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace strata
