#pragma once
// [webhook.NAME] tables of the config file -> endpoints (docs/CONFIG.md "[webhook.NAME]"). The secret is read from
// secret_file (never the config file itself, never argv), whitespace at its end dropped.
#include <string>
#include <vector>

#include "common/config.hpp"
#include "platform/notify/webhook_notifier.hpp"

namespace strata {

// Throws StrataError(kUsage) naming the table: a missing or non-http(s) url, an unreadable or empty secret_file, a
// malformed timeout.
std::vector<WebhookEndpoint> webhook_endpoints(const Settings& settings);

// What every channel table ([webhook.NAME], [amqp.NAME]) shares. The secret file's content without whitespace
// around it (common/secret_file.hpp); throws StrataError(kUsage) "<where>: <key> <file> cannot be read or is empty; write the <what> into it"
// (an empty secret is never meant).
std::string read_channel_secret(const std::string& file, const std::string& where, const std::string& key,
                                const std::string& what);
// The config's comma-joined events list -> event kinds ("" -> none: every kind).
std::vector<std::string> split_kinds(const std::string& events);

}  // namespace strata
