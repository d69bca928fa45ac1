#pragma once
// Where backup bytes come from and where restored bytes go: files, stdin/stdout, and shell commands.
#include <memory>
#include <string>

#include "common/bytes.hpp"

namespace strata {

class ChildEnv;  // common/process.hpp

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to n bytes; 0 means end of stream. Throws StrataError on failure.
  virtual size_t read(uint8_t* buf, size_t n) = 0;
  // Called after EOF: a command source checks the exit status here.
  virtual void finish() {}
  // Called when the backup fails for another reason or is cancelled: stop the producer. May run on any thread,
  // also while read() blocks on another one and more than once; it must not block or touch what read() uses.
  virtual void abort() noexcept {}
  virtual std::string describe() const = 0;
  // Fills buf completely unless the stream ends first; returns bytes read.
  size_t read_full(uint8_t* buf, size_t n);
};

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual void write(ByteView data) = 0;
  // A restore hands over each frame in a buffer nobody changes again; a sink that writes in the background keeps
  // the owner alive instead of copying the bytes.
  virtual void write_shared(SharedView frame) { write(frame.bytes); }
  // Everything written and verified: make the result visible (rename into place, wait for the command).
  virtual void finish() = 0;
  // Verification failed: leave nothing that looks like a good restore.
  virtual void abort() noexcept = 0;
  virtual std::string describe() const = 0;
};

// "-" is stdin.
std::unique_ptr<ByteSource> open_file_source(const std::string& path);
std::unique_ptr<ByteSource> open_command_source(const std::string& command);
// With the environment `env`: a tool's password reaches this child only.
std::unique_ptr<ByteSource> open_command_source(const std::string& command, const ChildEnv& env);
std::unique_ptr<ByteSource> open_fd_source(int fd, std::string name);  // does not own fd
// "-" is stdout. A file is written as PATH.strata-partial and renamed to PATH only after verification; an existing
// character device or FIFO is written into (never replaced), a block device only with `overwrite`; a directory is
// refused (kUsage).
std::unique_ptr<ByteSink> open_file_sink(const std::string& path, bool overwrite);
std::unique_ptr<ByteSink> open_command_sink(const std::string& command);
std::unique_ptr<ByteSink> open_command_sink(const std::string& command, const ChildEnv& env);

}  // namespace strata
