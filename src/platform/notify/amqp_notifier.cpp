#include "platform/notify/amqp_notifier.hpp"

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include <chrono>

#include "common/duration.hpp"
#include "common/error.hpp"
#include "platform/notify/webhook_config.hpp"

namespace strata {
namespace {

using Steady = std::chrono::steady_clock;

std::string reply_error(const amqp_rpc_reply_t& r, const char* what) {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL: return "";
    case AMQP_RESPONSE_NONE: return std::string(what) + ": no reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION: return std::string(what) + ": " + amqp_error_string2(r.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        auto* m = static_cast<amqp_connection_close_t*>(r.reply.decoded);
        return std::string(what) + ": broker closed the connection: " +
               std::string(static_cast<char*>(m->reply_text.bytes), m->reply_text.len);
      }
      if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        auto* m = static_cast<amqp_channel_close_t*>(r.reply.decoded);
        return std::string(what) + ": broker closed the channel: " +
               std::string(static_cast<char*>(m->reply_text.bytes), m->reply_text.len);
      }
      return std::string(what) + ": broker error";
  }
  return std::string(what) + ": unknown reply";
}

timeval left_until(Steady::time_point deadline) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Steady::now()).count();
  if (us < 1000) us = 1000;
  return timeval{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
}

// One connection for one publish: closed (and destroyed) whatever happens.
class Connection {
 public:
  Connection() : conn_(amqp_new_connection()) {}
  ~Connection() {
    if (open_) amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  amqp_connection_state_t get() const { return conn_; }
  void opened() { open_ = true; }

 private:
  amqp_connection_state_t conn_;
  bool open_ = false;
};

}  // namespace

std::string amqp_publish(const AmqpEndpoint& e, const NotifyEvent& event) {
  const auto deadline = Steady::now() + std::chrono::milliseconds(e.timeout_ms);
  Connection c;
  amqp_socket_t* sock = amqp_tcp_socket_new(c.get());
  if (!sock) return "cannot create a socket";
  timeval tv = left_until(deadline);
  amqp_set_handshake_timeout(c.get(), &tv);
  amqp_set_rpc_timeout(c.get(), &tv);
  std::string where = e.host + ":" + std::to_string(e.port);
  if (int st = amqp_socket_open_noblock(sock, e.host.c_str(), e.port, &tv); st != AMQP_STATUS_OK) {
    return "cannot connect to " + where + ": " + amqp_error_string2(st);
  }
  auto r = amqp_login(c.get(), e.vhost.c_str(), 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, e.user.c_str(), e.password.c_str());
  if (auto err = reply_error(r, "login"); !err.empty()) return where + ": " + err + " (check user, password_file and vhost)";
  c.opened();
  amqp_channel_open(c.get(), 1);
  if (auto err = reply_error(amqp_get_rpc_reply(c.get()), "channel.open"); !err.empty()) return where + ": " + err;
  amqp_confirm_select(c.get(), 1);
  if (auto err = reply_error(amqp_get_rpc_reply(c.get()), "confirm.select"); !err.empty()) return where + ": " + err;

  const std::string body = notify_event_json(event), id = std::to_string(event.id);
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
                 AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_TIMESTAMP_FLAG;
  props.content_type = amqp_cstring_bytes("application/json");
  props.delivery_mode = 2;  // persistent
  props.message_id = amqp_cstring_bytes(id.c_str());
  props.type = amqp_cstring_bytes(event.kind.c_str());
  props.timestamp = static_cast<uint64_t>(event.created_at);
  amqp_bytes_t payload{body.size(), const_cast<char*>(body.data())};
  int pr = amqp_basic_publish(c.get(), 1, amqp_cstring_bytes(e.exchange.c_str()), amqp_cstring_bytes(e.routing_key.c_str()),
                              /*mandatory=*/1, /*immediate=*/0, &props, payload);
  if (pr != AMQP_STATUS_OK) return where + ": publish: " + amqp_error_string2(pr);

  // The broker answers with basic.ack (taken), basic.nack, or basic.return + the message then basic.ack (no queue
  // was bound for the routing key: taken by nobody, which is not delivered).
  bool returned = false;
  for (;;) {
    amqp_frame_t frame;
    timeval left = left_until(deadline);
    int st = amqp_simple_wait_frame_noblock(c.get(), &frame, &left);
    if (st == AMQP_STATUS_TIMEOUT) return where + ": no publisher confirm within " + format_duration(e.timeout_ms / 1000);
    if (st != AMQP_STATUS_OK) return where + ": waiting for the confirm: " + amqp_error_string2(st);
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;  // the returned message's header and body
    switch (frame.payload.method.id) {
      case AMQP_BASIC_RETURN_METHOD: returned = true; break;
      case AMQP_BASIC_ACK_METHOD:
        if (returned) {
          return where + ": no queue is bound to exchange '" + e.exchange + "' with routing key '" + e.routing_key +
                 "': declare and bind one";
        }
        return "";
      case AMQP_BASIC_NACK_METHOD: return where + ": the broker refused the message (basic.nack)";
      case AMQP_CHANNEL_CLOSE_METHOD: {
        auto* m = static_cast<amqp_channel_close_t*>(frame.payload.method.decoded);
        return where + ": broker closed the channel: " + std::string(static_cast<char*>(m->reply_text.bytes), m->reply_text.len);
      }
      case AMQP_CONNECTION_CLOSE_METHOD: return where + ": the broker closed the connection";
      default: break;
    }
  }
}

std::vector<NotifyChannel> amqp_channels(const std::vector<AmqpEndpoint>& endpoints) {
  std::vector<NotifyChannel> out;
  for (const auto& e : endpoints) {
    NotifyChannel c;
    c.name = "amqp." + e.name;
    c.kinds = e.kinds;
    c.timeout_ms = e.timeout_ms;
    c.send = [e](const NotifyEvent& ev) { return amqp_publish(e, ev); };
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<AmqpEndpoint> amqp_endpoints(const Settings& settings) {
  std::vector<AmqpEndpoint> out;
  for (const auto& [name, keys] : settings.amqp) {
    auto get = [&](const char* k) {
      auto it = keys.find(k);
      return it == keys.end() ? std::string() : it->second;
    };
    std::string where = "[amqp." + name + "] in " + settings.config_path;
    AmqpEndpoint e;
    e.name = name;
    // amqp://user@host:port/vhost — the password never in the URL.
    std::string url = get("url");
    if (url.rfind("amqp://", 0) != 0) fail(ErrorCode::kUsage, where + ": url '" + url + "' is not amqp://user@host:port/vhost");
    std::string rest = url.substr(7);
    std::string path;
    if (auto slash = rest.find('/'); slash != std::string::npos) {
      path = rest.substr(slash + 1);
      rest = rest.substr(0, slash);
    }
    if (auto at = rest.rfind('@'); at != std::string::npos) {
      e.user = rest.substr(0, at);
      rest = rest.substr(at + 1);
      if (e.user.find(':') != std::string::npos) {
        fail(ErrorCode::kUsage, where + ": url holds a password; put it in a file and name it in password_file");
      }
    }
    if (auto colon = rest.rfind(':'); colon != std::string::npos) {
      e.host = rest.substr(0, colon);
      try {
        e.port = std::stoi(rest.substr(colon + 1));
      } catch (...) {
        fail(ErrorCode::kUsage, where + ": url '" + url + "' has no valid port");
      }
    } else if (!rest.empty()) {
      e.host = rest;
    }
    if (!path.empty()) {
      std::string v;  // %2F is "/", the default vhost's name in a URL
      for (size_t i = 0; i < path.size(); ++i) {
        if (path.compare(i, 3, "%2F") == 0) {
          v += '/';
          i += 2;
        } else {
          v += path[i];
        }
      }
      e.vhost = v;
    }
    if (std::string file = get("password_file"); !file.empty()) {
      e.password = read_channel_secret(file, where, "password_file", "password");
    }
    e.exchange = get("exchange");
    e.routing_key = get("routing_key");
    e.kinds = split_kinds(get("events"));
    e.timeout_ms = parse_duration(get("timeout").empty() ? "10s" : get("timeout"), "amqp." + name + ".timeout") * 1000;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace strata
