#pragma once

// Structured log lines on stderr: `ts=... level=info key=value ...`, one line per event.

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace actorvol::log {

enum class level { debug, info, warn, error };

std::optional<level> parse_level(const std::string& text);

void set_level(level lvl);

bool enabled(level lvl);

using fields = std::vector<std::pair<std::string, std::string>>;

/// Writes one line with these fields (values quoted when they need it).
void write(level lvl, const fields& kv);

} // namespace actorvol::log
