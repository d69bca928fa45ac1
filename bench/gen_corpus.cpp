// Writes a deterministic benchmark/test corpus to stdout:
//   rows  — database-like text rows (ids, timestamps, names, amounts), highly compressible like a table dump;
//   random — low-redundancy bytes (already-compressed media, encrypted blobs);
//   mixed — first half rows, second half random.
// Usage: strata_gen_corpus rows|random|mixed BYTES [SEED]
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
};

void write_all(const char* p, size_t n) {
  while (n) {
    ssize_t w = ::write(STDOUT_FILENO, p, n);
    if (w <= 0) std::exit(1);
    p += w;
    n -= static_cast<size_t>(w);
  }
}

unsigned long long u(uint64_t v) { return static_cast<unsigned long long>(v); }

void emit_rows(uint64_t bytes, Rng& rng) {
  static const char* names[] = {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
                                "mallory", "oscar", "peggy", "trent", "victor", "walter"};
  static const char* states[] = {"pending", "paid", "shipped", "delivered", "refunded"};
  std::string buf;
  buf.reserve(1 << 20);
  uint64_t id = 1, done = 0;
  while (done < bytes) {
    buf.clear();
    while (buf.size() < (1u << 20) - 256) {
      char line[256];
      uint64_t r = rng.next();
      int n = std::snprintf(line, sizeof line, "%llu\t2026-%02llu-%02llu %02llu:%02llu:%02llu+00\t%s\t%s\t%llu.%02llu\t%s@example.com\n",
                            static_cast<unsigned long long>(id++), u(r % 12 + 1), u((r >> 8) % 28 + 1), u((r >> 16) % 24),
                            u((r >> 24) % 60), u((r >> 32) % 60), names[(r >> 40) % 16], states[(r >> 44) % 5],
                            u((r >> 48) % 10000), u((r >> 20) % 100), names[(r >> 52) % 16]);
      buf.append(line, static_cast<size_t>(n));
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), bytes - done));
    write_all(buf.data(), n);
    done += n;
  }
}

void emit_random(uint64_t bytes, Rng& rng) {
  std::vector<uint64_t> buf(1 << 17);
  uint64_t done = 0;
  while (done < bytes) {
    for (auto& w : buf) w = rng.next();
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size() * 8, bytes - done));
    write_all(reinterpret_cast<const char*>(buf.data()), n);
    done += n;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s rows|random|mixed BYTES [SEED]\n", argv[0]);
    return 2;
  }
  std::string kind = argv[1];
  uint64_t bytes = std::strtoull(argv[2], nullptr, 10);
  Rng rng{argc > 3 ? std::strtoull(argv[3], nullptr, 10) | 1 : 0x9E3779B97F4A7C15ull};
  if (kind == "rows") emit_rows(bytes, rng);
  else if (kind == "random") emit_random(bytes, rng);
  else if (kind == "mixed") {
    emit_rows(bytes / 2, rng);
    emit_random(bytes - bytes / 2, rng);
  } else {
    std::fprintf(stderr, "unknown kind %s\n", kind.c_str());
    return 2;
  }
  return 0;
}
