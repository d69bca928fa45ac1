#pragma once
// [webhook.NAME] tables of the config file -> endpoints (docs/CONFIG.md "[webhook.NAME]"). The secret is read from
// secret_file (never the config file itself, never argv), whitespace at its end dropped.
#include <vector>

#include "common/config.hpp"
#include "platform/notify/webhook_notifier.hpp"

namespace strata {

// Throws StrataError(kUsage) naming the table: a missing or non-http(s) url, an unreadable or empty secret_file, a
// malformed timeout.
std::vector<WebhookEndpoint> webhook_endpoints(const Settings& settings);

}  // namespace strata
