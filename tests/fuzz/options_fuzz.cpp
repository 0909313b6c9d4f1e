// libFuzzer target for names and options: everything a Create's Name and Opts go through
// before anything touches the disk. valid_volume_name and printable (actors/types.hpp), the
// adaptors' accepts/validate (adaptors/dir.cpp, adaptors/mounted.cpp, adaptors/sshfs.cpp) and the helpers of
// adaptors/options.hpp (split, only, check_ownership, parse_size, parse_mount_options), and
// render() of every error they return. Besides "no crash, no UB, no leak", it checks
// properties against small reference implementations written here.
//
// Input (so that seeds are readable text, tests/fuzz/options_corpus/): the first line is the
// volume name, every further line an option "key=value" (split at the first '='; a line
// without '=' is a key with an empty value). Any byte but '\n' may appear anywhere.
//
// Two properties it found broken (both fixed): parse_size's result overflowed 64 bits
// ("16777217T" was taken as 1T), and uid, gid, mode and size took leading blanks and a sign
// (" +5"), because strtoul skips them.

#include "core/error.hpp"
#include "core/types.hpp"
#include "adaptors/dir.hpp"
#include "adaptors/mounted.hpp"
#include "adaptors/options.hpp"
#include "adaptors/sshfs.hpp"

#include <nlohmann/json.hpp>
#include <sys/mount.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

using namespace actorvol;

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& input) {
  std::fprintf(stderr, "property violated: %s\n  input: %s\n", what.c_str(),
               printable(input).c_str());
  std::abort();
}

#define CHECK(cond, what, input)                                                             \
  do {                                                                                       \
    if (!(cond))                                                                             \
      fail(std::string{what} + " (" #cond ")", input);                                       \
  } while (false)

// -- reference implementations ----------------------------------------------------------

bool ref_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool ref_valid_name(const std::string& s) {
  if (s.empty() || s.size() > 255 || !ref_alnum(s[0]))
    return false;
  for (char c : s)
    if (!ref_alnum(c) && c != '_' && c != '.' && c != '-')
      return false;
  return true;
}

bool all_digits(const std::string& s, bool octal = false) {
  if (s.empty())
    return false;
  for (char c : s)
    if (c < '0' || c > (octal ? '7' : '9'))
      return false;
  return true;
}

// printable's escapes undone: "\xNN" -> the byte.
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] == 'x') {
      out += static_cast<char>(std::strtoul(s.substr(i + 2, 2).c_str(), nullptr, 16));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Whether nlohmann (as net/ uses it for every answer) can put `s` in a JSON string.
bool json_safe(const std::string& s) {
  try {
    (void) nlohmann::json(s).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

// -- the properties ---------------------------------------------------------------------

void check_name(const std::string& name) {
  bool valid = valid_volume_name(name);
  CHECK(valid == ref_valid_name(name), "valid_volume_name disagrees with Docker's rule", name);
  if (valid) {
    CHECK(name.size() <= 255, "a valid name is at most 255 bytes", name);
    CHECK(name.find('/') == std::string::npos, "a valid name has no '/'", name);
    CHECK(name.find('\0') == std::string::npos, "a valid name has no NUL", name);
    CHECK(name != "." && name != "..", "a valid name is never . or ..", name);
  }
  auto p = printable(name);
  for (unsigned char c : p)
    CHECK(c >= 0x20 && c < 0x7f && c != '"', "printable() is printable ASCII without '\"'", name);
  CHECK(unescape(p) == name, "printable() loses nothing", name);
  if (valid)
    CHECK(p == name, "printable() leaves a valid name alone", name);
  // The REGISTRY's answer to a bad name must always fit in Docker's JSON "Err".
  auto text = render(make_error(ec::invalid_name, printable(name)));
  CHECK(!text.empty() && json_safe(text), "an invalid-name error renders into JSON", name);
}

void check_split(const std::string& text, char sep) {
  auto items = options::split(text, sep);
  std::string joined, expected;
  for (auto& item : items) {
    CHECK(!item.empty(), "split() yields no empty items", text);
    CHECK(item.find(sep) == std::string::npos, "split() items hold no separator", text);
    joined += item;
  }
  for (char c : text)
    if (c != sep)
      expected += c;
  CHECK(joined == expected, "split() keeps every other byte, in order", text);
}

void check_size(const std::string& text) {
  uint64_t size = options::parse_size(text);
  if (size == 0)
    return;
  uint64_t unit = 1;
  auto digits = text;
  switch (text.back()) {
    case 'k': case 'K': unit = 1ull << 10; break;
    case 'm': case 'M': unit = 1ull << 20; break;
    case 'g': case 'G': unit = 1ull << 30; break;
    case 't': case 'T': unit = 1ull << 40; break;
    default: break;
  }
  if (unit != 1)
    digits.pop_back();
  CHECK(size % unit == 0, "parse_size() is a whole number of units", text);
  CHECK(all_digits(digits), "parse_size() accepts only N, NK, NM, NG, NT", text);
  CHECK(size / unit == std::strtoull(digits.c_str(), nullptr, 10),
        "parse_size() never overflows: size / unit == the number", text);
}

void check_mount_options(const std::string& o) {
  // The local driver's words: {word, clears, bits}; the last word about a flag wins.
  static const std::vector<std::tuple<std::string, bool, unsigned long>> flag_words = {
    {"defaults", false, 0},          {"ro", false, MS_RDONLY},       {"rw", true, MS_RDONLY},
    {"suid", true, MS_NOSUID},       {"nosuid", false, MS_NOSUID},   {"dev", true, MS_NODEV},
    {"nodev", false, MS_NODEV},      {"exec", true, MS_NOEXEC},      {"noexec", false, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS}, {"async", true, MS_SYNCHRONOUS}, {"dirsync", false, MS_DIRSYNC},
    {"mand", false, MS_MANDLOCK},    {"nomand", true, MS_MANDLOCK},  {"atime", true, MS_NOATIME},
    {"noatime", false, MS_NOATIME},  {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME}, {"bind", false, MS_BIND},
    {"rbind", false, MS_BIND | MS_REC},   {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
  };
  static const std::vector<std::pair<std::string, unsigned long>> propagation_words = {
    {"private", MS_PRIVATE}, {"rprivate", MS_PRIVATE | MS_REC}, {"shared", MS_SHARED},
    {"rshared", MS_SHARED | MS_REC}, {"slave", MS_SLAVE}, {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
  };
  auto got = options::parse_mount_options(o);
  unsigned long flags = 0, propagation = 0;
  std::string data;
  for (auto& item : options::split(o, ',')) {
    bool known = false;
    for (auto& [word, clears, bits] : flag_words)
      if (item == word) {
        flags = clears ? flags & ~bits : flags | bits;
        known = true;
      }
    for (auto& [word, bits] : propagation_words)
      if (item == word) {
        propagation = bits;
        known = true;
      }
    if (!known)
      data += (data.empty() ? "" : ",") + item;
  }
  CHECK(got.flags == flags, "parse_mount_options() flags are the flag words' bits", o);
  CHECK(got.propagation == propagation, "parse_mount_options() keeps the last propagation", o);
  CHECK(got.data == data, "parse_mount_options() data is the other items, in order", o);
}

// Ownership values that passed check_ownership() are what apply_ownership() will use.
void check_ownership_ok(const volume_spec& v, const std::string& input) {
  for (auto key : {"uid", "gid", "mode"}) {
    auto i = v.opts.find(key);
    if (i == v.opts.end())
      continue;
    bool octal = std::string{key} == "mode";
    auto n = std::strtoull(i->second.c_str(), nullptr, octal ? 8 : 10);
    CHECK(n <= (octal ? 07777ull : 0xfffffffeull), "an accepted uid/gid/mode is in range", input);
    CHECK(all_digits(i->second, octal), "an accepted uid/gid/mode is digits only", input);
  }
}

void check_error(const caf::error& err, const volume_spec& v, bool utf8_input,
                 const std::string& input) {
  auto code = code_of(err);
  CHECK(code == ec::unknown_option || code == ec::bad_option,
        "validation fails only with unknown_option or bad_option", input);
  auto text = render(err);
  CHECK(text.rfind("volume \"" + v.name + "\": ", 0) == 0,
        "a validation error names the volume first", input);
  if (utf8_input)
    CHECK(json_safe(text), "an error about UTF-8 input renders into JSON", input);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  auto lines = std::vector<std::string>{};
  for (size_t pos = 0;;) {
    auto end = input.find('\n', pos);
    lines.push_back(input.substr(pos, end == std::string::npos ? end : end - pos));
    if (end == std::string::npos)
      break;
    pos = end + 1;
  }
  volume_spec v;
  v.name = lines[0];
  for (size_t i = 1; i < lines.size(); ++i) {
    auto eq = lines[i].find('=');
    v.opts[lines[i].substr(0, eq)] = eq == std::string::npos ? "" : lines[i].substr(eq + 1);
  }

  check_name(v.name);
  check_split(input, ',');
  check_split(v.name, ';');
  check_size(v.name);
  check_mount_options(v.name);
  for (auto& [key, value] : v.opts) {
    check_size(value);
    check_mount_options(value);
    check_split(value, ',');
  }

  // Docker's JSON can only carry UTF-8, so only such input must render into JSON.
  bool utf8_input = json_safe(input);

  auto ownership = options::check_ownership(v);
  if (ownership)
    check_error(ownership, v, utf8_input, input);
  else
    check_ownership_ok(v, input);

  // The catalog's adaptors. validate() touches nothing: the mounting ones get no sys_calls.
  static const std::vector<std::shared_ptr<adaptor>> adaptors = {
    std::make_shared<dir_adaptor>("/nonexistent/volumes"),
    std::make_shared<tmpfs_adaptor>("/nonexistent", nullptr),
    std::make_shared<loop_adaptor>("/nonexistent", nullptr),
    std::make_shared<passthrough_adaptor>("/nonexistent", nullptr),
    std::make_shared<sshfs_adaptor>("/nonexistent", nullptr, secret_store{"/nonexistent/s"}),
  };
  static const std::vector<std::vector<std::string>> known = {
    {"uid", "gid", "mode"},
    {"type", "device", "o", "size", "uid", "gid", "mode"},  // device=: the local driver's label
    {"size", "fs", "uid", "gid", "mode"},
    {"type", "device", "o"},  // uid, gid, mode: the mounted filesystem's own top directory
    {"type", "host", "port", "user", "path", "secret", "known_host", "timeout", "o"},
  };
  for (size_t a = 0; a < adaptors.size(); ++a) {
    (void) adaptors[a]->accepts(v.opts);
    auto err = adaptors[a]->validate(v);
    if (err) {
      check_error(err, v, utf8_input, input);
      continue;
    }
    // Accepted: every option is one this adaptor knows, and the numbers are in range.
    for (auto& [key, value] : v.opts) {
      bool ok = false;
      for (auto& k : known[a])
        ok = ok || k == key;
      CHECK(ok, "validate() accepts only known options", input);
    }
    CHECK(!ownership, "validate() accepts only what check_ownership() accepts", input);
    if (a == 2) {  // loop: a size an image file can have, at least the minimum
      auto bytes = options::parse_size(v.opts.at("size"));
      CHECK(bytes >= (1ull << 20), "a loop volume is at least 1M", input);
    }
    if (a == 4) {  // sshfs: nothing reaches ssh as an option, no credential is taken inline
      CHECK(v.opts.at("host")[0] != '-', "an accepted host is no option", input);
      CHECK(!v.opts.count("user") || v.opts.at("user")[0] != '-', "an accepted user is no option",
            input);
      for (auto& [key, value] : v.opts)
        CHECK(value.find("PRIVATE KEY") == std::string::npos, "no key material is accepted",
              input);
      CHECK(!v.opts.count("o") || v.opts.at("o").find("assword") == std::string::npos,
            "no password option is accepted", input);
    }
    if (a == 1 && v.opts.count("size"))
      CHECK(options::parse_size(v.opts.at("size")) != 0, "a tmpfs size parses", input);
  }
  return 0;
}
