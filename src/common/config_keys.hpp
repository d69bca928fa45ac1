#pragma once
// Every key the config file may contain, by table — the list docs/CONFIG.md documents. A key not listed here is a
// typo (or a key of a newer strata) and is refused with its file, line and the closest known key, so that
// `compresion = "lz4"` never silently backs up with the default. Adding a key = one line here + one in CONFIG.md.
#include <string>
#include <string_view>
#include <vector>

namespace strata {

// `table` is "" (top level), "backup", "s3", "source" (keys every source may have), "source.<engine>" (keys of
// that engine), "entity" or "entity.child". Unknown tables give an empty list.
const std::vector<std::string>& known_config_keys(std::string_view table);
// The engines a [source.NAME] may name.
const std::vector<std::string>& known_engines();

}  // namespace strata
