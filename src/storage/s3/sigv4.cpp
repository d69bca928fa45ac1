#include "storage/s3/sigv4.hpp"

#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>

namespace strata::sigv4 {
namespace {

constexpr const char* kAlgorithm = "AWS4-HMAC-SHA256";

std::string to_hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  return out;
}

std::string hmac(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Trims both ends and folds every run of whitespace (including line folds) into one space.
std::string canonical_value(const std::string& v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

std::string normalize(const std::string& path) {
  std::vector<std::string> segs;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string seg = path.substr(i, j - i);
    if (seg == "..") {
      if (!segs.empty()) segs.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segs.push_back(seg);
    }
    i = j + 1;
  }
  std::string out;
  for (const auto& s : segs) out += "/" + s;
  if (out.empty()) return "/";
  if (path.size() > 1 && path.back() == '/') out += "/";
  return out;
}

}  // namespace

std::string sha256_hex(const void* data, size_t size) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(static_cast<const unsigned char*>(data), size, d);
  return to_hex(d, sizeof d);
}

std::string uri_encode(const std::string& s, bool keep_slash) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 15]);
    }
  }
  return out;
}

std::string uri_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() + 0 && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

Pairs parse_query(const std::string& query) {
  Pairs out;
  size_t i = 0;
  while (i < query.size()) {
    size_t amp = query.find('&', i);
    if (amp == std::string::npos) amp = query.size();
    std::string part = query.substr(i, amp - i);
    if (!part.empty()) {
      size_t eq = part.find('=');
      if (eq == std::string::npos) {
        out.emplace_back(uri_decode(part), "");
      } else {
        out.emplace_back(uri_decode(part.substr(0, eq)), uri_decode(part.substr(eq + 1)));
      }
    }
    i = amp + 1;
  }
  return out;
}

Signed sign(const Request& request, const Credentials& credentials, const Options& options) {
  Signed out;
  const std::string date = options.amz_date.substr(0, 8);
  const std::string scope = date + "/" + options.region + "/" + options.service + "/aws4_request";

  // Headers: lower-case names, sorted; repeated names joined with ',' in the order sent.
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [k, v] : request.headers) headers.emplace_back(lower(k), canonical_value(v));
  if (!options.presign) {
    out.added_headers.emplace_back("x-amz-date", options.amz_date);
    if (options.add_content_sha256_header) out.added_headers.emplace_back("x-amz-content-sha256", request.payload_sha256);
    if (!credentials.session_token.empty() && !options.omit_session_token) {
      out.added_headers.emplace_back("x-amz-security-token", credentials.session_token);
    }
    for (const auto& [k, v] : out.added_headers) headers.emplace_back(k, v);
  }
  std::stable_sort(headers.begin(), headers.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string canonical_headers, signed_headers;
  for (size_t i = 0; i < headers.size(); ++i) {
    if (i > 0 && headers[i].first == headers[i - 1].first) {
      canonical_headers.back() = ',';
      canonical_headers += headers[i].second + "\n";
      continue;
    }
    canonical_headers += headers[i].first + ":" + headers[i].second + "\n";
    if (!signed_headers.empty()) signed_headers += ";";
    signed_headers += headers[i].first;
  }

  Pairs query = request.query;
  if (options.presign) {
    out.added_query = {{"X-Amz-Algorithm", kAlgorithm},
                       {"X-Amz-Credential", credentials.access_key_id + "/" + scope},
                       {"X-Amz-Date", options.amz_date},
                       {"X-Amz-Expires", std::to_string(options.expires_seconds)}};
    if (!credentials.session_token.empty() && !options.omit_session_token) {
      out.added_query.emplace_back("X-Amz-Security-Token", credentials.session_token);
    }
    out.added_query.emplace_back("X-Amz-SignedHeaders", signed_headers);
    query.insert(query.end(), out.added_query.begin(), out.added_query.end());
  }
  std::vector<std::pair<std::string, std::string>> encoded;
  for (const auto& [k, v] : query) encoded.emplace_back(uri_encode(k, false), uri_encode(v, false));
  std::sort(encoded.begin(), encoded.end());
  std::string canonical_query;
  for (const auto& [k, v] : encoded) {
    if (!canonical_query.empty()) canonical_query += "&";
    canonical_query += k + "=" + v;
  }

  std::string path = options.normalize_path ? normalize(request.path) : request.path;
  if (path.empty()) path = "/";
  out.canonical_request = request.method + "\n" + uri_encode_path(path) + "\n" + canonical_query + "\n" +
                          canonical_headers + "\n" + signed_headers + "\n" + request.payload_sha256;
  out.string_to_sign = std::string(kAlgorithm) + "\n" + options.amz_date + "\n" + scope + "\n" +
                       sha256_hex(out.canonical_request.data(), out.canonical_request.size());
  std::string k = hmac("AWS4" + credentials.secret_access_key, date);
  k = hmac(k, options.region);
  k = hmac(k, options.service);
  k = hmac(k, "aws4_request");
  std::string sig = hmac(k, out.string_to_sign);
  out.signature = to_hex(reinterpret_cast<const unsigned char*>(sig.data()), sig.size());
  bool token_after = !credentials.session_token.empty() && options.omit_session_token;
  if (options.presign) {
    out.added_query.emplace_back("X-Amz-Signature", out.signature);
    if (token_after) out.added_query.emplace_back("X-Amz-Security-Token", credentials.session_token);
  } else {
    if (token_after) out.added_headers.emplace_back("x-amz-security-token", credentials.session_token);
    out.added_headers.emplace_back("Authorization", std::string(kAlgorithm) + " Credential=" + credentials.access_key_id +
                                                        "/" + scope + ", SignedHeaders=" + signed_headers +
                                                        ", Signature=" + out.signature);
  }
  return out;
}

}  // namespace strata::sigv4
