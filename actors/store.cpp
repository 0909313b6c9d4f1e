#include "actors/store.hpp"

#include "core/error.hpp"
#include "core/failpoint.hpp"
#include "core/threads.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <string_view>
#include <thread>

using json = nlohmann::json;

namespace actorvol {

namespace {

// Reads a record as encode() writes it, without building a JSON tree first (start-up reads
// 100,000 of them). Anything else (a field missing, repeated or of another type, a key it
// does not know) makes it give up, and read_tree() reads the text the general way: the
// outcome, errors included, is the same either way.
class record_reader : public nlohmann::json_sax<json> {
public:
  explicit record_reader(volume_record& r) : r_(r) {
  }

  /// Whether the text was read whole, with every field a record needs.
  bool complete() const {
    const unsigned needed = bit(field::name) | bit(field::opts) | bit(field::created_at)
                                | bit(field::uses);
    return !failed_ && depth_ == 0 && (seen_ & needed) == needed;
  }

  bool null() override {
    return fail();
  }
  bool boolean(bool) override {
    return fail();
  }
  bool number_integer(number_integer_t v) override {  // a negative number
    return depth_ == 2 && in_ == field::used_since ? put(r_.used_since, int64_t{v}) : fail();
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (depth_ == 1 && in_ == field::version)
      return true;
    if (depth_ == 2 && in_ == field::uses && v <= UINT32_MAX)
      return put(r_.uses, static_cast<uint32_t>(v));
    if (depth_ == 2 && in_ == field::used_since && v <= INT64_MAX)
      return put(r_.used_since, static_cast<int64_t>(v));
    return fail();
  }
  bool number_float(number_float_t, const string_t&) override {
    return fail();
  }
  bool string(string_t& v) override {
    if (depth_ == 1 && in_ == field::name)
      r_.name = std::move(v);
    else if (depth_ == 1 && in_ == field::created_at)
      r_.created_at = std::move(v);
    else if (depth_ == 2 && in_ == field::opts)
      return put(r_.opts, std::move(v));
    else
      return fail();
    return true;
  }
  bool binary(binary_t&) override {
    return fail();
  }
  bool start_object(std::size_t) override {
    if (depth_ == 0
        || (depth_ == 1 && (in_ == field::opts || in_ == field::uses || in_ == field::used_since))) {
      ++depth_;
      return true;
    }
    return fail();
  }
  bool key(string_t& k) override {
    if (depth_ == 2) {
      key_ = std::move(k);
      return true;
    }
    in_ = field_of(k);
    if (in_ == field::other || (seen_ & bit(in_)) != 0)
      return fail();
    seen_ |= bit(in_);
    return true;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    return fail();
  }
  bool end_array() override {
    return fail();
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return fail();
  }

private:
  enum class field : unsigned { name, opts, created_at, uses, used_since, version, other };

  static constexpr unsigned bit(field f) {
    return 1u << static_cast<unsigned>(f);
  }

  static field field_of(const std::string& k) {
    for (auto [text, f] : {std::pair{"name", field::name}, {"opts", field::opts},
                           {"created_at", field::created_at}, {"uses", field::uses},
                           {"used_since", field::used_since}, {"version", field::version}})
      if (k == text)
        return f;
    return field::other;
  }

  template <class Map, class Value>
  bool put(Map& m, Value&& v) {
    return m.emplace(std::move(key_), std::forward<Value>(v)).second || fail();  // no repeats
  }

  bool fail() {
    failed_ = true;
    return false;
  }

  volume_record& r_;
  int depth_ = 0;
  field in_ = field::other;
  unsigned seen_ = 0;
  std::string key_;
  bool failed_ = false;
};

// Reads `text` through a JSON tree: any JSON, with the library's own words for what is
// wrong ("" when nothing is).
std::string read_tree(std::string_view text, volume_record& r) {
  auto j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return "not a JSON object";
  try {
    r.name = j.at("name").get<std::string>();
    r.opts = j.at("opts").get<volume_opts>();
    r.created_at = j.at("created_at").get<std::string>();
    r.uses = j.at("uses").get<mount_uses>();
    if (j.contains("used_since"))
      r.used_since = j.at("used_since").get<std::map<std::string, int64_t>>();
  } catch (const json::exception& e) {
    return e.what();
  }
  return "";
}

// What is wrong with `text` as the record of `name` ("" when nothing is); fills `r`.
std::string parse(const std::string& name, std::string_view text, volume_record& r) {
  record_reader fast{r};
  if (!json::sax_parse(text.begin(), text.end(), &fast) || !fast.complete()) {
    r = volume_record{};
    if (auto why = read_tree(text, r); !why.empty())
      return why;
  }
  if (r.name != name)
    return "it names volume \"" + printable(r.name) + "\"";
  for (auto& [id, count] : r.uses)
    if (count == 0)
      return "mount id \"" + printable(id) + "\" has a zero count";
  return "";
}

} // namespace

std::string state_store::encode(const volume_record& r) {
  json j;
  j["version"] = 1;
  j["name"] = r.name;
  j["opts"] = r.opts;
  j["created_at"] = r.created_at;
  j["uses"] = r.uses;
  j["used_since"] = r.used_since;
  return j.dump();
}

caf::expected<volume_record> state_store::decode(const std::string& name,
                                                 const std::string& text) {
  volume_record r;
  auto why = parse(name, text, r);
  if (!why.empty())
    return make_error(ec::backend_failed, name, "corrupt state record: " + why);
  return r;
}

void state_store::decode_all(std::vector<loaded_record>& out,
                             const std::vector<std::string_view>& texts, unsigned threads) {
  auto decode_range = [&](size_t begin, size_t end) {
    for (auto i = begin; i < end; ++i) {
      if (!out[i].problem.empty())
        continue;  // could not even be read
      volume_record r;
      if (auto why = parse(out[i].name, texts[i], r); !why.empty())
        out[i].problem = "corrupt state record: " + why;
      else
        out[i].record = std::move(r);
    }
  };
  // More threads than CPUs to run them would only take turns (and each grows a malloc arena
  // of its own).
  threads = std::min<unsigned>(threads, static_cast<unsigned>(threads::usable_cpus()));
  threads = std::max(1u, std::min<unsigned>(threads, out.size() / 1000 + 1));
  // The helpers are started again for each part: 25 starts at 100k volumes, some
  // microseconds each, against a start-up of about 300 ms. Not worth a pool.
  std::vector<std::thread> pool;
  auto per = (out.size() + threads - 1) / threads;
  for (unsigned t = 1; t < threads; ++t) {
    auto begin = std::min(out.size(), t * per);
    pool.emplace_back(decode_range, begin, std::min(out.size(), begin + per));
  }
  decode_range(0, std::min(out.size(), per));
  for (auto& t : pool)
    t.join();
}

caf::expected<std::vector<loaded_record>> state_store::load_all(unsigned threads) {
  std::vector<loaded_record> all;
  auto err = load_each(
    load_part,
    [&all](std::vector<loaded_record> part) {
      all.insert(all.end(), std::make_move_iterator(part.begin()),
                 std::make_move_iterator(part.end()));
    },
    threads);
  if (err)
    return err;
  return all;
}

caf::error state_store::injected(const std::string& name) {
  auto fault = failpoint::hit("state.write");
  if (!fault.empty())
    return make_error(ec::state_write_failed, name, fault);
  return caf::none;
}

} // namespace actorvol
