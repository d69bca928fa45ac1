#include "storage/s3/s3_storage.hpp"

#include <algorithm>
#include <map>

#include "common/error.hpp"
#include "common/log.hpp"

namespace strata {

std::unique_ptr<Storage> open_s3_storage(const std::string& location, const StorageOptions& options) {
  return std::make_unique<s3::S3Storage>(s3::resolve_s3_config(location, options));
}

namespace s3 {

void BufferBudget::acquire(uint64_t n) {
  std::unique_lock<std::mutex> lock(mu_);
  // A request larger than the whole budget still proceeds once nothing else is held, so it cannot deadlock.
  cv_.wait(lock, [&] { return used_ == 0 || used_ + n <= limit_; });
  used_ += n;
  peak_ = std::max(peak_, used_);
}

void BufferBudget::release(uint64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  used_ -= n;
  cv_.notify_all();
}

TaskPool::TaskPool(unsigned threads) {
  for (unsigned i = 0; i < threads; ++i) {
    threads_.emplace_back([this] {
      for (;;) {
        std::function<void()> task;
        {
          std::unique_lock<std::mutex> lock(mu_);
          cv_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
          if (tasks_.empty()) return;
          task = std::move(tasks_.front());
          tasks_.pop_front();
        }
        task();
      }
    });
  }
}

TaskPool::~TaskPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void TaskPool::submit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

uint64_t part_tail_allowance(uint64_t part_size) { return part_size / 8; }

uint64_t part_size_for(uint64_t base, uint64_t part_number) {
  uint64_t tier = (part_number - 1) / 1000;
  uint64_t size = base << std::min<uint64_t>(tier, 20);
  return std::min<uint64_t>(size, 5ull << 30);
}

namespace {

std::string strip_quotes(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), '"'), s.end());
  return s;
}

// S3's ETag of a multipart object: MD5 of the parts' binary MD5s, then "-N".
std::string multipart_etag(const std::map<uint64_t, std::string>& etags) {
  Bytes all;
  for (const auto& [n, e] : etags) {
    Bytes d = hex_decode(strip_quotes(e));
    all.insert(all.end(), d.begin(), d.end());
  }
  return md5_hex(all) + "-" + std::to_string(etags.size());
}

class S3Writer final : public ObjectWriter {
 public:
  S3Writer(S3Storage& s, std::string key, PutMode mode)
      : s_(s), key_(std::move(key)), full_(s.full_key(key_)), mode_(mode), sh_(std::make_shared<Shared>()) {}
  ~S3Writer() override { abort(); }

  void write(ByteView data) override {
    if (done_) fail(ErrorCode::kStorage, "write to " + describe() + " after it was committed or aborted");
    throw_part_error();
    while (!data.empty()) {
      if (cap_ == 0) {
        uint64_t part = part_size_for(s_.client().config().part_size, part_ + 1);
        cap_ = part + part_tail_allowance(part);
        s_.budget().acquire(cap_);
        buf_.reserve(cap_);
      }
      if (buf_.size() == cap_) {
        // Flushed only when more data follows, and only part_size of it: the allowance stays for the next part.
        // So an object of up to part_size + allowance (a data object of --object-size plus its frame overhead)
        // is one PUT, and a stream's short tail rides in the last part instead of costing a request of its own.
        flush_part(part_size_for(s_.client().config().part_size, part_ + 1));
        continue;
      }
      size_t n = std::min<size_t>(data.size(), cap_ - buf_.size());
      buf_.insert(buf_.end(), data.begin(), data.begin() + static_cast<ptrdiff_t>(n));
      data = data.subspan(n);
    }
  }

  void commit() override {
    if (done_) fail(ErrorCode::kStorage, "commit of " + describe() + " after it was committed or aborted");
    try {
      if (upload_id_.empty()) {
        put_single();
      } else {
        if (!buf_.empty()) flush_part(buf_.size());
        wait_parts();
        throw_part_error();
        complete();
        abort_orphaned_uploads();
      }
    } catch (...) {
      abort();
      throw;
    }
    done_ = true;
    release_buffer();
  }

  void abort() noexcept override {
    if (done_) return;
    done_ = true;
    wait_parts();
    release_buffer();
    if (upload_id_.empty()) return;
    try {
      Call c;
      c.method = "DELETE";
      c.key = full_;
      c.query = {{"uploadId", upload_id_}};
      c.accept = {404};
      c.what = "abort of the multipart upload of " + describe();
      s_.client().execute(c);
    } catch (const std::exception& e) {
      // The upload stays behind and 'strata check' reports it; the original error matters more.
      log::warn("s3_abort_failed", {{"object", full_}, {"upload_id", upload_id_}, {"error", e.what()}});
    }
    abort_orphaned_uploads();
  }

 private:
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    unsigned in_flight = 0;
    std::map<uint64_t, std::string> etags;
    std::map<uint64_t, std::string> crcs;  // base64 CRC-32 per part, with checksum=crc32
    std::exception_ptr error;
  };

  std::string describe() const { return "s3://" + s_.client().config().bucket + "/" + full_; }

  // Uploads of this very key other than ours: created by a create whose answer was lost. Data object keys are
  // written once by one writer, so they are ours and of no use. Best effort: 'strata check' reports what remains.
  void abort_orphaned_uploads() noexcept {
    if (!create_retried_) return;
    create_retried_ = false;
    try {
      std::string marker;
      std::vector<std::string> orphans;
      Call c;
      c.method = "GET";
      c.query = {{"uploads", ""}, {"prefix", full_}};
      c.what = "listing of the multipart uploads of " + describe();
      Response r = s_.client().execute(c);
      for (size_t pos = 0;;) {
        size_t at = r.body.find("<Upload>", pos);
        if (at == std::string::npos) break;
        size_t end = r.body.find("</Upload>", at);
        std::string entry = r.body.substr(at, end - at);
        std::string id = xml_value(entry, "UploadId");
        if (xml_value(entry, "Key") == full_ && id != upload_id_) orphans.push_back(id);
        pos = end;
      }
      for (const auto& id : orphans) {
        Call d;
        d.method = "DELETE";
        d.key = full_;
        d.query = {{"uploadId", id}};
        d.accept = {404};
        d.what = "abort of an orphaned multipart upload of " + describe();
        s_.client().execute(d);
        log::info("s3_orphaned_upload_aborted", {{"object", full_}, {"upload_id", id}});
      }
    } catch (const std::exception& e) {
      log::warn("s3_orphan_abort_failed", {{"object", full_}, {"error", e.what()}});
    }
  }

  void release_buffer() noexcept {
    if (cap_) s_.budget().release(cap_);
    cap_ = 0;
    Bytes().swap(buf_);
  }

  void throw_part_error() {
    std::lock_guard<std::mutex> lock(sh_->mu);
    if (sh_->error) std::rethrow_exception(sh_->error);
  }

  void wait_parts() noexcept {
    std::unique_lock<std::mutex> lock(sh_->mu);
    sh_->cv.wait(lock, [&] { return sh_->in_flight == 0; });
  }

  sigv4::Pairs object_headers() const {
    sigv4::Pairs h;
    const auto& cfg = s_.client().config();
    if (!cfg.storage_class.empty()) h.emplace_back("x-amz-storage-class", cfg.storage_class);
    return h;
  }

  // Object data carries either Content-MD5 (added by the client) or x-amz-checksum-crc32.
  void add_checksum(Call& c) const {
    if (!s_.client().config().checksum_crc32) return;
    c.headers.emplace_back("x-amz-checksum-crc32", crc32_base64(c.body));
    c.content_md5 = false;
  }

  bool create_only_native() const { return mode_ == PutMode::kCreateOnly && s_.client().config().if_none_match; }

  // The documented fallback where the service ignores If-None-Match: a HEAD just before the commit. It narrows
  // the race between two writers to that gap; it does not close it.
  void check_absent_fallback() {
    if (mode_ == PutMode::kCreateOnly && !s_.client().config().if_none_match && s_.stat(key_)) {
      fail(ErrorCode::kAlreadyExists, describe() + " already exists");
    }
  }

  // After a 412 or a vanished upload: if the object there is byte-identical to ours, an earlier attempt of ours
  // succeeded and only its response was lost.
  bool ours_already(const std::string& expected_etag) {
    Call c;
    c.method = "HEAD";
    c.key = full_;
    c.accept = {404};
    c.what = "check of " + describe();
    Response r = s_.client().execute(c);
    return r.status == 200 && strip_quotes(r.header("etag")) == expected_etag;
  }

  void put_single() {
    check_absent_fallback();
    Call c;
    c.method = "PUT";
    c.key = full_;
    c.headers = object_headers();
    if (create_only_native()) {
      c.headers.emplace_back("If-None-Match", "*");
      c.accept = {412};
    }
    c.body = buf_;
    add_checksum(c);
    c.what = "upload of " + describe();
    Response r = s_.client().execute(c);
    if (r.status == 412 && !ours_already(md5_hex(buf_))) fail(ErrorCode::kAlreadyExists, describe() + " already exists");
  }

  void create_upload() {
    Call c;
    c.method = "POST";
    c.key = full_;
    c.query = {{"uploads", ""}};
    c.headers = object_headers();
    if (s_.client().config().checksum_crc32) c.headers.emplace_back("x-amz-checksum-algorithm", "CRC32");
    c.what = "start of the multipart upload of " + describe();
    Response r = s_.client().execute(c);
    // A retried create may have created an upload whose answer never reached us: find and abort it at the end.
    create_retried_ = r.attempts > 1;
    upload_id_ = xml_value(r.body, "UploadId");
    if (upload_id_.empty()) fail(ErrorCode::kStorage, "S3 returned no upload id for " + describe() + "; the service may not support multipart uploads");
  }

  // Sends the first `size` bytes of the buffer as the next part; the rest (at most the allowance) starts the next.
  void flush_part(size_t size) {
    if (upload_id_.empty()) create_upload();
    uint64_t number = ++part_;
    if (number > 10000) fail(ErrorCode::kStorage, describe() + " would need more than 10,000 parts; raise the s3 part_size option");
    auto task_buf = std::make_shared<Bytes>(std::move(buf_));
    uint64_t held = cap_;
    buf_ = Bytes();
    cap_ = 0;
    // The carried tail (at most the allowance) waits outside the budget until this part is submitted: taking
    // the next buffer first could wait for budget that only this part's upload releases.
    Bytes carry(task_buf->begin() + static_cast<ptrdiff_t>(std::min(size, task_buf->size())), task_buf->end());
    task_buf->resize(std::min(size, task_buf->size()));
    {
      std::lock_guard<std::mutex> lock(sh_->mu);
      sh_->in_flight++;
    }
    S3Storage* s = &s_;
    auto sh = sh_;
    std::string full = full_, upload = upload_id_, what = describe() + " part " + std::to_string(number);
    s_.pool().submit([s, sh, task_buf, held, number, full, upload, what] {
      std::string etag, crc;
      std::exception_ptr err;
      bool skip;
      {
        std::lock_guard<std::mutex> lock(sh->mu);
        skip = sh->error != nullptr;  // another part failed: the upload will be aborted anyway
      }
      if (!skip) {
        try {
          Call c;
          c.method = "PUT";
          c.key = full;
          c.query = {{"partNumber", std::to_string(number)}, {"uploadId", upload}};
          c.body = *task_buf;
          if (s->client().config().checksum_crc32) {
            crc = crc32_base64(c.body);
            c.headers.emplace_back("x-amz-checksum-crc32", crc);
            c.content_md5 = false;
          }
          c.what = "upload of " + what;
          etag = s->client().execute(c).header("etag");
          if (etag.empty()) fail(ErrorCode::kStorage, "S3 returned no ETag for " + what);
        } catch (...) {
          err = std::current_exception();
        }
      }
      task_buf->clear();
      task_buf->shrink_to_fit();
      s->budget().release(held);
      std::lock_guard<std::mutex> lock(sh->mu);
      if (err && !sh->error) sh->error = err;
      if (!err && !skip) {
        sh->etags[number] = etag;
        if (!crc.empty()) sh->crcs[number] = crc;
      }
      sh->in_flight--;
      sh->cv.notify_all();
    });
    if (!carry.empty()) {
      uint64_t part = part_size_for(s_.client().config().part_size, part_ + 1);
      cap_ = part + part_tail_allowance(part);
      s_.budget().acquire(cap_);
      buf_.reserve(cap_);
      buf_.assign(carry.begin(), carry.end());
    }
  }

  void complete() {
    check_absent_fallback();
    std::string xml = "<CompleteMultipartUpload>";
    for (const auto& [n, e] : sh_->etags) {
      auto crc = sh_->crcs.find(n);
      xml += "<Part><PartNumber>" + std::to_string(n) + "</PartNumber><ETag>" + e + "</ETag>" +
             (crc == sh_->crcs.end() ? "" : "<ChecksumCRC32>" + crc->second + "</ChecksumCRC32>") + "</Part>";
    }
    xml += "</CompleteMultipartUpload>";
    Call c;
    c.method = "POST";
    c.key = full_;
    c.query = {{"uploadId", upload_id_}};
    c.body = as_bytes(xml);
    c.accept = {404};
    if (create_only_native()) {
      c.headers.emplace_back("If-None-Match", "*");
      c.accept.push_back(412);
    }
    c.what = "completion of the multipart upload of " + describe();
    const unsigned attempts = s_.client().config().max_attempts;
    for (unsigned n = 1;; ++n) {
      Response r = s_.client().execute(c);
      if (r.status == 412 || r.status == 404) {
        if (ours_already(multipart_etag(sh_->etags))) break;
        if (r.status == 412) fail(ErrorCode::kAlreadyExists, describe() + " already exists");
        fail(ErrorCode::kStorage, "the multipart upload of " + describe() + " vanished before it completed (NoSuchUpload); run the backup again");
      }
      // S3 may answer 200 and still report an error in the body; that one is worth another try.
      if (r.body.find("<Error>") == std::string::npos) break;
      if (n >= attempts) {
        fail(ErrorCode::kStorage, "completion of the multipart upload of " + describe() + " failed: " + xml_value(r.body, "Code") +
                                      " " + xml_value(r.body, "Message") + "; run the backup again");
      }
    }
    upload_id_.clear();
  }

  S3Storage& s_;
  std::string key_, full_;
  PutMode mode_;
  Bytes buf_;
  uint64_t cap_ = 0;
  uint64_t part_ = 0;
  std::string upload_id_;
  bool create_retried_ = false;  // the create needed a retry: an orphaned upload of this key may exist
  std::shared_ptr<Shared> sh_;
  bool done_ = false;
};

}  // namespace

S3Storage::S3Storage(S3Config config)
    : client_(std::move(config)), budget_(client_.config().upload_buffer), pool_(client_.config().upload_concurrency) {}

S3Storage::~S3Storage() = default;

uint32_t S3Storage::capabilities() const {
  uint32_t caps = StorageCapability::kAtomicWrite | StorageCapability::kRangeRead | StorageCapability::kDurable;
  if (client_.config().if_none_match) caps |= static_cast<uint32_t>(StorageCapability::kConditionalCreate);
  return caps;
}

std::unique_ptr<ObjectWriter> S3Storage::open_write(const std::string& key, PutMode mode) {
  if (key.empty() || key.front() == '/') fail(ErrorCode::kUsage, "invalid object key '" + key + "'");
  return std::make_unique<S3Writer>(*this, key, mode);
}

Bytes S3Storage::get(const std::string& key, uint64_t offset, uint64_t length) {
  Bytes out;
  if (length == 0) return out;
  Call c;
  c.method = "GET";
  c.key = full_key(key);
  if (offset > 0 || length != kToEnd) {
    std::string range = "bytes=" + std::to_string(offset) + "-";
    if (length != kToEnd) range += std::to_string(offset + length - 1);
    c.headers.emplace_back("Range", range);
  }
  c.accept = {416};  // a range starting at or past the end: nothing to read, as with a short local file
  c.sink = &out;
  c.what = "download of s3://" + client_.config().bucket + "/" + c.key;
  Response r = client_.execute(c);
  if (r.status == 416) out.clear();
  return out;
}

std::optional<ObjectInfo> S3Storage::stat(const std::string& key) {
  Call c;
  c.method = "HEAD";
  c.key = full_key(key);
  c.accept = {404};
  c.what = "stat of s3://" + client_.config().bucket + "/" + c.key;
  Response r = client_.execute(c);
  if (r.status == 404) return std::nullopt;
  return ObjectInfo{key, std::strtoull(r.header("content-length").c_str(), nullptr, 10)};
}

std::vector<ObjectInfo> S3Storage::list(const std::string& prefix) {
  std::vector<ObjectInfo> out;
  const std::string& root = client_.config().prefix;
  std::string token;
  do {
    Call c;
    c.method = "GET";
    c.query = {{"list-type", "2"}, {"prefix", root + prefix}};
    if (!token.empty()) c.query.emplace_back("continuation-token", token);
    c.what = "listing of " + describe() + "/" + prefix;
    Response r = client_.execute(c);
    size_t pos = 0;
    for (;;) {
      size_t at = r.body.find("<Contents>", pos);
      if (at == std::string::npos) break;
      size_t end = r.body.find("</Contents>", at);
      std::string entry = r.body.substr(at, end - at);
      std::string k = xml_value(entry, "Key");
      if (k.compare(0, root.size(), root) == 0) out.push_back({k.substr(root.size()), std::strtoull(xml_value(entry, "Size").c_str(), nullptr, 10)});
      pos = end;
    }
    token = xml_value(r.body, "IsTruncated") == "true" ? xml_value(r.body, "NextContinuationToken") : "";
  } while (!token.empty());
  std::sort(out.begin(), out.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

void S3Storage::remove(const std::string& key) {
  Call c;
  c.method = "DELETE";
  c.key = full_key(key);
  c.accept = {404};
  c.what = "removal of s3://" + client_.config().bucket + "/" + c.key;
  client_.execute(c);
}

std::string delete_objects_xml(const std::vector<std::string>& full_keys) {
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>";
  for (const auto& k : full_keys) xml += "<Object><Key>" + xml_escape(k) + "</Key></Object>";
  return xml + "</Delete>";
}

std::vector<DeleteFailure> delete_failures(const std::string& answer) {
  std::vector<DeleteFailure> out;
  for (size_t pos = 0;;) {
    size_t at = answer.find("<Error>", pos);
    if (at == std::string::npos) break;
    size_t end = answer.find("</Error>", at);
    if (end == std::string::npos) end = answer.size();
    std::string one = answer.substr(at, end - at);
    out.push_back({xml_value(one, "Key"), xml_value(one, "Code"), xml_value(one, "Message")});
    pos = end;
  }
  return out;
}

void S3Storage::remove_many(const std::vector<std::string>& keys) {
  constexpr size_t kPerRequest = 1000;  // the S3 API's limit
  for (size_t from = 0; from < keys.size(); from += kPerRequest) {
    size_t to = std::min(keys.size(), from + kPerRequest);
    if (to - from > 1 && !no_multi_delete_.load() && delete_objects(keys, from, to)) continue;
    for (size_t i = from; i < to; ++i) remove(keys[i]);
  }
}

bool S3Storage::delete_objects(const std::vector<std::string>& keys, size_t from, size_t to) {
  std::vector<std::string> full;
  full.reserve(to - from);
  for (size_t i = from; i < to; ++i) full.push_back(full_key(keys[i]));
  std::string xml = delete_objects_xml(full);
  Call c;
  c.method = "POST";
  c.query = {{"delete", ""}};
  c.body = as_bytes(xml);  // Content-MD5 comes with it: the API requires one
  c.accept = {501};
  c.what = "removal of " + std::to_string(to - from) + " objects from " + describe();
  Response r = client_.execute(c);
  if (r.status == 501) {
    log::warn("s3_multi_delete_unsupported", {{"storage", describe()}, {"fallback", "one DELETE per object"}});
    no_multi_delete_.store(true);
    return false;
  }
  auto failed = delete_failures(r.body);
  if (!failed.empty()) {
    const auto& f = failed.front();
    fail(ErrorCode::kStorage, "removal of s3://" + client_.config().bucket + "/" + f.key + " failed (" + f.code +
                                  (f.message.empty() ? "" : ": " + f.message) + ")" +
                                  (failed.size() > 1 ? " with " + std::to_string(failed.size() - 1) + " more" : "") +
                                  "; check that the credentials may delete objects in this bucket, then run it again");
  }
  return true;
}

std::vector<ObjectInfo> S3Storage::list_incomplete(const std::string& prefix) {
  std::vector<ObjectInfo> out;
  const std::string& root = client_.config().prefix;
  std::string key_marker, id_marker;
  for (;;) {
    Call c;
    c.method = "GET";
    c.query = {{"uploads", ""}, {"prefix", root + prefix}};
    if (!key_marker.empty()) c.query.emplace_back("key-marker", key_marker);
    if (!id_marker.empty()) c.query.emplace_back("upload-id-marker", id_marker);
    c.what = "listing of multipart uploads in " + describe();
    Response r = client_.execute(c);
    size_t pos = 0;
    for (;;) {
      size_t at = r.body.find("<Upload>", pos);
      if (at == std::string::npos) break;
      size_t end = r.body.find("</Upload>", at);
      std::string entry = r.body.substr(at, end - at);
      std::string k = xml_value(entry, "Key");
      if (k.compare(0, root.size(), root) == 0) {
        out.push_back({k.substr(root.size()) + "?uploadId=" + xml_value(entry, "UploadId"), 0});
      }
      pos = end;
    }
    if (xml_value(r.body, "IsTruncated") != "true") break;
    key_marker = xml_value(r.body, "NextKeyMarker");
    id_marker = xml_value(r.body, "NextUploadIdMarker");
    if (key_marker.empty() && id_marker.empty()) break;
  }
  return out;
}

void S3Storage::remove_incomplete(const ObjectInfo& info) {
  auto q = info.key.rfind("?uploadId=");
  if (q == std::string::npos) fail(ErrorCode::kUsage, info.key + " is not an incomplete multipart upload");
  Call c;
  c.method = "DELETE";
  c.key = full_key(info.key.substr(0, q));
  c.query = {{"uploadId", info.key.substr(q + 10)}};
  c.accept = {404};
  c.what = "abort of the multipart upload " + info.key + " in " + describe();
  client_.execute(c);
}

}  // namespace s3
}  // namespace strata
