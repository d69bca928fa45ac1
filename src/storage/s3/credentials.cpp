#include "storage/s3/credentials.hpp"

#include <curl/curl.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.hpp"
#include "common/log.hpp"
#include "common/process.hpp"
#include "common/secret_file.hpp"
#include "storage/s3/s3_client.hpp"

namespace strata::s3 {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool env_true(const char* name) {
  std::string v = env(name);
  for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return v == "true" || v == "1";
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

using Section = std::map<std::string, std::string>;

// An AWS ini file: "[name]" (credentials file) or "[profile name]" / "[default]" (config file); both spellings are
// accepted in both files, as the SDKs are lenient too. Returns false if the file cannot be read.
bool read_ini(const std::string& path, std::map<std::string, Section>* out) {
  if (path.empty()) return false;
  std::ifstream f(path);
  if (!f) return false;
  std::string line, section;
  while (std::getline(f, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = trim(line.substr(1, line.size() - 2));
      if (section.rfind("profile ", 0) == 0) section = trim(section.substr(8));
      (*out)[section];
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string::npos || section.empty()) continue;
    (*out)[section][trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  return true;
}

std::string get(const Section& s, const char* key) {
  auto it = s.find(key);
  return it == s.end() ? "" : it->second;
}

struct HttpResult {
  long status = 0;
  std::string body;
  std::string error;  // non-empty when no HTTP answer came back
};

size_t append_body(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() < (1u << 20)) body->append(data, size * n);
  return size * n;
}

// One plain HTTP exchange for the credential endpoints: never through a proxy (they are link-local or loopback),
// short timeouts so a host without such a service is not held up.
HttpResult http(const std::string& method, const std::string& url, const std::vector<std::string>& headers,
                const std::string& body, long timeout_ms) {
  HttpResult r;
  CURL* h = curl_easy_init();
  if (!h) {
    r.error = "cannot initialise libcurl";
    return r;
  }
  curl_slist* hdrs = nullptr;
  for (const auto& x : headers) hdrs = curl_slist_append(hdrs, x.c_str());
  hdrs = curl_slist_append(hdrs, "Expect:");
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  if (method == "PUT" || method == "POST") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, body.c_str());
  }
  CURLcode rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
  if (rc != CURLE_OK) r.error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  curl_slist_free_all(hdrs);
  curl_easy_cleanup(h);
  return r;
}

std::string url_encode_form(const std::string& s) { return sigv4::uri_encode(s, false); }

class StaticProvider final : public CredentialProvider {
 public:
  StaticProvider(std::string name, sigv4::Credentials c) : name_(std::move(name)), creds_(std::move(c)) {}
  std::string name() const override { return name_; }
  TimedCredentials fetch() override { return {creds_, 0}; }

 private:
  std::string name_;
  sigv4::Credentials creds_;
};

// credential_process: how SSO users (`aws configure export-credentials --format process`) and vaults hand out
// credentials. Run without a shell; its stdout is parsed and never logged, its stderr is quoted on failure only.
class ProcessProvider final : public CredentialProvider {
 public:
  ProcessProvider(std::string profile, std::string file, std::string command)
      : profile_(std::move(profile)), file_(std::move(file)), command_(std::move(command)) {}
  std::string name() const override { return "credential_process of profile '" + profile_ + "' in " + file_; }
  TimedCredentials fetch() override {
    std::vector<std::string> argv = split_command(command_);
    if (argv.empty()) fail(ErrorCode::kUsage, name() + " is empty; set it to a command that prints credentials as JSON");
    std::string out, err;
    int status = run_capture(argv, &out, &err);
    if (status == 127 && out.empty()) {
      fail(ErrorCode::kUsage, name() + ": cannot run '" + argv[0] + "'; install it or fix the credential_process line");
    }
    if (status != 0) {
      std::string last = trim(err);
      if (auto nl = last.rfind('\n'); nl != std::string::npos) last = last.substr(nl + 1);
      if (last.size() > 200) last = last.substr(0, 200);
      fail(ErrorCode::kStorage, name() + " exited with status " + std::to_string(status) + (last.empty() ? "" : " (" + last + ")") +
                                    "; run it by hand to see why (an SSO session may need 'aws sso login')");
    }
    return parse_credentials_json(out, name());
  }

 private:
  std::string profile_, file_, command_;
};

// ECS task roles, EKS Pod Identity and other container agents: one GET, optionally with an Authorization token.
class ContainerProvider final : public CredentialProvider {
 public:
  ContainerProvider(std::string url, long timeout_ms) : url_(std::move(url)), timeout_ms_(timeout_ms) {}
  std::string name() const override { return "the container credentials endpoint " + url_; }
  TimedCredentials fetch() override {
    std::vector<std::string> headers;
    std::string token = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    if (auto file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"); !file.empty()) {
      SecretFile f = read_secret_file(file, SecretTrim::kWhitespace);
      if (!f.read) fail(ErrorCode::kUsage, "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE " + file + " for " + name() + "; fix the path");
      token = f.value;
    }
    if (token.find_first_of("\r\n") != std::string::npos) {
      fail(ErrorCode::kUsage, "the container authorization token for " + name() + " contains a line break; fix the token");
    }
    if (!token.empty()) headers.push_back("Authorization: " + token);
    HttpResult r;
    for (int attempt = 0; attempt < 3; ++attempt) {  // the agent may be starting up next to us
      r = http("GET", url_, headers, "", timeout_ms_);
      if (r.error.empty() && r.status < 500) break;
    }
    if (!r.error.empty()) fail(ErrorCode::kStorage, "cannot reach " + name() + " (" + r.error + "); check that the container agent runs");
    if (r.status != 200) {
      fail(ErrorCode::kStorage, name() + " answered HTTP " + std::to_string(r.status) +
                                    (r.status == 401 || r.status == 403 ? "; check AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)"
                                                                        : "; check the task or pod role"));
    }
    return parse_credentials_json(r.body, name());
  }

 private:
  std::string url_;
  long timeout_ms_;
};

// EC2 instance roles through IMDSv2: a session token by PUT, then the role name, then the role's credentials.
class ImdsProvider final : public CredentialProvider {
 public:
  ImdsProvider(std::string endpoint, long timeout_ms, int attempts, bool v1_disabled)
      : endpoint_(std::move(endpoint)), timeout_ms_(timeout_ms), attempts_(attempts), v1_disabled_(v1_disabled) {}
  std::string name() const override { return "EC2 instance metadata (IMDSv2) at " + endpoint_; }

  TimedCredentials fetch() override {
    std::vector<std::string> headers;
    HttpResult t = request("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds: 21600"});
    if (t.error.empty() && t.status == 200 && !t.body.empty()) {
      headers.push_back("X-aws-ec2-metadata-token: " + trim(t.body));
    } else if (!t.error.empty()) {
      fail(ErrorCode::kStorage, "cannot reach " + name() + " (" + t.error + ")");
    } else if ((t.status == 403 || t.status == 404 || t.status == 405) && !v1_disabled_) {
      // Tokens unsupported or refused by a metadata proxy: IMDSv1, as the SDKs fall back to.
    } else {
      fail(ErrorCode::kStorage, name() + " refused a session token (HTTP " + std::to_string(t.status) +
                                    "); check the instance's metadata options (hop limit, IMDSv2)");
    }
    HttpResult role = request("GET", "/latest/meta-data/iam/security-credentials/", headers);
    if (!role.error.empty()) fail(ErrorCode::kStorage, "cannot reach " + name() + " (" + role.error + ")");
    std::string name_of_role = trim(role.body);
    if (auto nl = name_of_role.find('\n'); nl != std::string::npos) name_of_role = trim(name_of_role.substr(0, nl));
    if (role.status == 404 || (role.status == 200 && name_of_role.empty())) {
      fail(ErrorCode::kUsage, "this EC2 instance has no IAM role (" + name() + "); attach an instance profile or configure other credentials");
    }
    if (role.status != 200) fail(ErrorCode::kStorage, name() + " answered HTTP " + std::to_string(role.status) + " for the role name");
    HttpResult c = request("GET", "/latest/meta-data/iam/security-credentials/" + name_of_role, headers);
    if (!c.error.empty()) fail(ErrorCode::kStorage, "cannot reach " + name() + " (" + c.error + ")");
    if (c.status != 200) {
      fail(ErrorCode::kStorage, name() + " answered HTTP " + std::to_string(c.status) + " for role '" + name_of_role +
                                    "'; check the instance profile");
    }
    return parse_credentials_json(c.body, name() + " (role '" + name_of_role + "')");
  }

 private:
  HttpResult request(const std::string& method, const std::string& path, const std::vector<std::string>& headers) {
    HttpResult r;
    for (int n = 0; n < attempts_; ++n) {
      r = http(method, endpoint_ + path, headers, "", timeout_ms_);
      if (r.error.empty() && r.status < 500) break;
    }
    return r;
  }
  std::string endpoint_;
  long timeout_ms_;
  int attempts_;
  bool v1_disabled_;
};

// AssumeRoleWithWebIdentity (EKS IRSA, GitHub Actions OIDC): the token file is read at each refresh, because the
// orchestrator rotates it. The STS call itself is unsigned.
class WebIdentityProvider final : public CredentialProvider {
 public:
  WebIdentityProvider(std::string token_file, std::string role_arn, std::string session, std::string endpoint)
      : token_file_(std::move(token_file)), role_arn_(std::move(role_arn)), session_(std::move(session)), endpoint_(std::move(endpoint)) {}
  std::string name() const override { return "web identity (role " + role_arn_ + " via " + endpoint_ + ")"; }
  TimedCredentials fetch() override {
    SecretFile token = read_secret_file(token_file_, SecretTrim::kWhitespace);
    if (!token.read) {
      fail(ErrorCode::kUsage, "cannot read the web identity token file " + token_file_ + " for " + name() + "; fix AWS_WEB_IDENTITY_TOKEN_FILE");
    }
    std::string body = "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" + url_encode_form(role_arn_) +
                       "&RoleSessionName=" + url_encode_form(session_) + "&WebIdentityToken=" + url_encode_form(token.value);
    HttpResult r;
    for (int attempt = 0; attempt < 3; ++attempt) {
      r = http("POST", endpoint_ + "/", {"Content-Type: application/x-www-form-urlencoded"}, body, 10000);
      if (r.error.empty() && r.status < 500) break;
    }
    if (!r.error.empty()) fail(ErrorCode::kStorage, "cannot reach STS for " + name() + " (" + r.error + "); check the network or AWS_ENDPOINT_URL_STS");
    if (r.status != 200) {
      std::string code = xml_value(r.body, "Code");
      fail(ErrorCode::kStorage, name() + " was refused (HTTP " + std::to_string(r.status) + (code.empty() ? "" : " " + code) +
                                    "); check the role's trust policy and the token");
    }
    TimedCredentials t;
    t.credentials.access_key_id = xml_value(r.body, "AccessKeyId");
    t.credentials.secret_access_key = xml_value(r.body, "SecretAccessKey");
    t.credentials.session_token = xml_value(r.body, "SessionToken");
    std::string exp = xml_value(r.body, "Expiration");
    t.expiration = exp.empty() ? 0 : parse_iso8601(exp);
    if (t.credentials.access_key_id.empty() || t.credentials.secret_access_key.empty() || t.expiration < 0) {
      fail(ErrorCode::kStorage, name() + " returned no usable credentials; check the STS endpoint");
    }
    return t;
  }

 private:
  std::string token_file_, role_arn_, session_, endpoint_;
};

long metadata_timeout_ms() {
  std::string v = env("AWS_METADATA_SERVICE_TIMEOUT");  // seconds, as the SDKs read it
  double s = v.empty() ? 1.0 : std::atof(v.c_str());
  return s > 0 ? static_cast<long>(s * 1000) : 1000;
}

int metadata_attempts() {
  int n = std::atoi(env("AWS_METADATA_SERVICE_NUM_ATTEMPTS").c_str());
  return n >= 1 ? std::min(n, 10) : 1;
}

std::string sts_endpoint() {
  if (auto v = env("AWS_ENDPOINT_URL_STS"); !v.empty()) return v;
  if (auto v = env("AWS_ENDPOINT_URL"); !v.empty()) return v;
  std::string region = env("AWS_REGION");
  if (region.empty()) region = env("AWS_DEFAULT_REGION");
  return region.empty() ? "https://sts.amazonaws.com" : "https://sts." + region + ".amazonaws.com";
}

std::shared_ptr<CredentialCache> make(std::unique_ptr<CredentialProvider> p) {
  auto cache = std::make_shared<CredentialCache>(std::move(p));
  cache->get();  // fail now, with the provider's message, rather than at the first request
  return cache;
}

}  // namespace

CredentialCache::CredentialCache(std::unique_ptr<CredentialProvider> provider, std::function<int64_t()> now)
    : provider_(std::move(provider)), now_(now ? std::move(now) : std::function<int64_t()>(now_seconds)), name_(provider_->name()) {}

void CredentialCache::refresh_locked(bool must) {
  try {
    TimedCredentials t = provider_->fetch();
    ++fetches_;
    if (t.credentials.secret_access_key.empty()) {
      fail(ErrorCode::kUsage, "S3 credentials from " + name_ + " have an access key id but no secret access key");
    }
    current_ = std::move(t);
    have_ = true;
    if (current_.expiration) log::info("s3_credentials", {{"source", name_}, {"expires_in_s", uint64_t(std::max<int64_t>(0, current_.expiration - now_()))}});
  } catch (const std::exception& e) {
    // Still-valid credentials keep working through a failed early refresh; the next request tries again.
    if (must) throw;
    log::warn("s3_credentials_refresh_failed", {{"source", name_}, {"error", e.what()}});
  }
}

sigv4::Credentials CredentialCache::get() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!have_) {
    refresh_locked(true);
  } else if (current_.expiration) {
    int64_t left = current_.expiration - now_();
    if (left <= kRefreshAheadSeconds) refresh_locked(left <= 0);
  }
  return current_.credentials;
}

bool CredentialCache::force_refresh() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!current_.expiration) return false;
  refresh_locked(true);
  return true;
}

bool CredentialCache::refreshable() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_.expiration != 0;
}

uint64_t CredentialCache::fetches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fetches_;
}

int64_t parse_iso8601(const std::string& s) {
  std::tm tm{};
  int y, mo, d, h, mi, sec;
  char tail[32] = {0};
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%31s", &y, &mo, &d, &h, &mi, &sec, tail) < 6) return -1;
  std::string rest = tail;
  if (!rest.empty() && rest[0] == '.') {
    size_t i = 1;
    while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) ++i;
    rest = rest.substr(i);
  }
  int64_t offset = 0;
  if (rest == "Z" || rest.empty()) {
  } else if ((rest[0] == '+' || rest[0] == '-') && rest.size() >= 6 && rest[3] == ':') {
    offset = (std::atoi(rest.substr(1, 2).c_str()) * 60 + std::atoi(rest.substr(4, 2).c_str())) * 60;
    if (rest[0] == '-') offset = -offset;
  } else {
    return -1;
  }
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return static_cast<int64_t>(timegm(&tm)) - offset;
}

std::vector<std::string> split_command(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote == '\'') {
      if (c == '\'') quote = 0;
      else cur.push_back(c);
    } else if (quote == '"') {
      if (c == '"') quote = 0;
      else if (c == '\\' && i + 1 < line.size() && (line[i + 1] == '"' || line[i + 1] == '\\')) cur.push_back(line[++i]);
      else cur.push_back(c);
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < line.size()) {
      cur.push_back(line[++i]);
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) out.push_back(cur), cur.clear(), in_word = false;
    } else {
      cur.push_back(c);
      in_word = true;
    }
  }
  if (quote) fail(ErrorCode::kUsage, "credential_process has an unclosed " + std::string(1, quote) + " quote; fix the profile");
  if (in_word) out.push_back(cur);
  return out;
}

TimedCredentials parse_credentials_json(const std::string& json, const std::string& source) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  // The document holds the secret: messages say what is wrong with it, never quote it.
  if (j.is_discarded() || !j.is_object()) fail(ErrorCode::kStorage, source + " did not return a JSON object; check what it prints");
  auto str = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string(); };
  if (j.contains("Version") && !(j["Version"].is_number_integer() && j["Version"].get<int>() == 1)) {
    fail(ErrorCode::kStorage, source + " returned credentials of an unknown Version (only 1 is defined)");
  }
  if (auto code = str("Code"); !code.empty() && code != "Success") {
    fail(ErrorCode::kStorage, source + " reported " + code + (str("Message").empty() ? "" : ": " + str("Message")) + "; check the role");
  }
  TimedCredentials t;
  t.credentials.access_key_id = str("AccessKeyId");
  t.credentials.secret_access_key = str("SecretAccessKey");
  t.credentials.session_token = str("SessionToken").empty() ? str("Token") : str("SessionToken");
  if (t.credentials.access_key_id.empty() || t.credentials.secret_access_key.empty()) {
    fail(ErrorCode::kStorage, source + " returned no AccessKeyId/SecretAccessKey; check what it prints");
  }
  if (auto exp = str("Expiration"); !exp.empty()) {
    t.expiration = parse_iso8601(exp);
    if (t.expiration < 0) fail(ErrorCode::kStorage, source + " returned an unreadable Expiration '" + exp + "'");
  }
  return t;
}

bool container_host_allowed(const std::string& url) {
  if (url.rfind("https://", 0) == 0) return true;
  if (url.rfind("http://", 0) != 0) return false;
  std::string rest = url.substr(7);
  std::string host;
  if (!rest.empty() && rest[0] == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos) return false;
    host = rest.substr(0, close + 1);
  } else {
    host = rest.substr(0, rest.find_first_of(":/?"));
  }
  if (host == "localhost" || host == "[::1]" || host == "169.254.170.2" || host == "169.254.170.23" || host == "[fd00:ec2::23]") return true;
  unsigned a, b, c, d;
  char extra;
  return std::sscanf(host.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &extra) == 4 && a == 127 && b < 256 && c < 256 && d < 256;
}

std::shared_ptr<CredentialCache> resolve_credentials(const std::map<std::string, std::string>& file_options, const std::string& what) {
  auto opt = [&](const char* k) { return file_options.count(k) ? file_options.at(k) : std::string(); };

  // 1. Environment.
  if (auto id = env("AWS_ACCESS_KEY_ID"); !id.empty()) {
    return make(std::make_unique<StaticProvider>("environment (AWS_ACCESS_KEY_ID)",
                                                 sigv4::Credentials{id, env("AWS_SECRET_ACCESS_KEY"), env("AWS_SESSION_TOKEN")}));
  }
  // 2. The strata config file (strata's own; it sits where the SDKs have their code-supplied credentials).
  if (!opt("access_key_id").empty()) {
    return make(std::make_unique<StaticProvider>("the strata config file ([s3] access_key_id)",
                                                 sigv4::Credentials{opt("access_key_id"), opt("secret_access_key"), opt("session_token")}));
  }

  std::string profile = env("AWS_PROFILE");
  bool explicit_profile = !profile.empty() || !opt("profile").empty();
  if (profile.empty()) profile = opt("profile");
  if (profile.empty()) profile = "default";
  std::string home = env("HOME");
  std::string cred_file = env("AWS_SHARED_CREDENTIALS_FILE");
  if (cred_file.empty() && !home.empty()) cred_file = home + "/.aws/credentials";
  std::string config_file = env("AWS_CONFIG_FILE");
  if (config_file.empty() && !home.empty()) config_file = home + "/.aws/config";
  std::map<std::string, Section> creds_ini, config_ini;
  read_ini(cred_file, &creds_ini);
  read_ini(config_file, &config_ini);
  const Section empty;
  const Section& in_creds = creds_ini.count(profile) ? creds_ini.at(profile) : empty;
  const Section& in_config = config_ini.count(profile) ? config_ini.at(profile) : empty;
  auto setting = [&](const char* k) { return !get(in_config, k).empty() ? get(in_config, k) : get(in_creds, k); };

  // 3. Web identity: the environment's token file and role, else the profile's.
  std::string token_file = env("AWS_WEB_IDENTITY_TOKEN_FILE"), role_arn = env("AWS_ROLE_ARN");
  std::string session = env("AWS_ROLE_SESSION_NAME");
  if (token_file.empty() && !setting("web_identity_token_file").empty()) {
    token_file = setting("web_identity_token_file");
    role_arn = setting("role_arn");
    if (session.empty()) session = setting("role_session_name");
  }
  if (!token_file.empty()) {
    if (role_arn.empty()) fail(ErrorCode::kUsage, "a web identity token file is set but no role: set AWS_ROLE_ARN (or role_arn in the profile)");
    if (session.empty()) session = "strata-" + std::to_string(now_seconds());
    return make(std::make_unique<WebIdentityProvider>(token_file, role_arn, session, sts_endpoint()));
  }

  // 4-6. The profile: static keys of the credentials file, credential_process, static keys of the config file.
  if (!get(in_creds, "aws_access_key_id").empty()) {
    return make(std::make_unique<StaticProvider>("profile '" + profile + "' in " + cred_file,
                                                 sigv4::Credentials{get(in_creds, "aws_access_key_id"), get(in_creds, "aws_secret_access_key"),
                                                                    get(in_creds, "aws_session_token")}));
  }
  if (auto cmd = setting("credential_process"); !cmd.empty()) {
    return make(std::make_unique<ProcessProvider>(profile, get(in_config, "credential_process").empty() ? cred_file : config_file, cmd));
  }
  if (!get(in_config, "aws_access_key_id").empty()) {
    return make(std::make_unique<StaticProvider>("profile '" + profile + "' in " + config_file,
                                                 sigv4::Credentials{get(in_config, "aws_access_key_id"), get(in_config, "aws_secret_access_key"),
                                                                    get(in_config, "aws_session_token")}));
  }
  if (!setting("sso_session").empty() || !setting("sso_start_url").empty() || !setting("role_arn").empty()) {
    fail(ErrorCode::kUsage, "profile '" + profile + "' uses " + (setting("role_arn").empty() ? "SSO" : "role_arn/source_profile") +
                                ", which strata does not resolve itself; add 'credential_process = aws configure export-credentials --profile " +
                                profile + " --format process' to a profile and use that one");
  }
  if (explicit_profile) {
    fail(ErrorCode::kUsage, "no S3 credentials for " + what + ": profile '" + profile + "' has no credentials in " +
                                (cred_file.empty() ? "~/.aws/credentials" : cred_file) + " or " + (config_file.empty() ? "~/.aws/config" : config_file) +
                                "; add them, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  }

  // 7. Container credentials (ECS task role, EKS Pod Identity).
  if (auto rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); !rel.empty()) {
    return make(std::make_unique<ContainerProvider>("http://169.254.170.2" + (rel[0] == '/' ? rel : "/" + rel), 2000));
  }
  if (auto full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI"); !full.empty()) {
    if (!container_host_allowed(full)) {
      fail(ErrorCode::kUsage, "AWS_CONTAINER_CREDENTIALS_FULL_URI " + full +
                                  " is neither https nor a loopback/container-agent address; credentials are only fetched over plain HTTP from "
                                  "127.0.0.0/8, ::1, 169.254.170.2 or 169.254.170.23");
    }
    return make(std::make_unique<ContainerProvider>(full, 2000));
  }

  // 8. EC2 instance metadata.
  std::string why = "EC2 instance metadata disabled by AWS_EC2_METADATA_DISABLED";
  if (!env_true("AWS_EC2_METADATA_DISABLED")) {
    std::string endpoint = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (endpoint.empty()) {
      std::string mode = env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
      for (char& c : mode) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      endpoint = mode == "ipv6" ? "http://[fd00:ec2::254]" : "http://169.254.169.254";
    }
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    try {
      return make(std::make_unique<ImdsProvider>(endpoint, metadata_timeout_ms(), metadata_attempts(), env_true("AWS_EC2_METADATA_V1_DISABLED")));
    } catch (const StrataError& e) {
      // Configured providers fail loudly above; instance metadata is only a last guess, so its error is a hint.
      why = e.what();
    }
  }
  fail(ErrorCode::kUsage, "no S3 credentials for " + what + ": set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, add profile '" + profile +
                              "' to " + (cred_file.empty() ? "~/.aws/credentials" : cred_file) +
                              ", or set access_key_id/secret_access_key under [s3] in the strata config (last tried: " + why + ")");
}

}  // namespace strata::s3
