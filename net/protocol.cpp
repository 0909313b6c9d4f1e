#include "net/protocol.hpp"

#include "net/router.hpp"

#include <nlohmann/json.hpp>

namespace actorvol::net {

using json = nlohmann::json;

namespace {

// Never throws: bytes that are not UTF-8 are replaced.
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A bad request; one whose Name was read (and is a valid name) is about that volume.
caf::error bad(std::string why, const std::string& name = {}) {
  return make_error(ec::bad_request, valid_volume_name(name) ? name : std::string{},
                    std::move(why));
}

// Reads the string field `key` of a request about volume `name` (none yet while Name is
// read); a missing or non-string field is an error.
caf::error read_string(const json& j, const char* key, std::string& out,
                       const std::string& name = {}) {
  auto i = j.find(key);
  if (i == j.end())
    return bad(std::string{"missing field \""} + key + "\"", name);
  if (!i->is_string())
    return bad(std::string{"field \""} + key + "\" must be a string", name);
  out = i->get<std::string>();
  return caf::none;
}

// Appends `text` as a JSON string. Plain ASCII (what names, timestamps and paths nearly
// always are) is copied as it is; other ASCII is escaped here; text with any other byte goes
// through the JSON library (which replaces invalid UTF-8), so the two never differ.
void append_string(std::string& out, const std::string& text) {
  bool plain = true;
  for (unsigned char c : text) {
    if (c >= 0x80) {
      out += dump(json(text));
      return;
    }
    plain = plain && c >= 0x20 && c != '"' && c != '\\';
  }
  out += '"';
  if (plain) {
    out += text;
    out += '"';
    return;
  }
  static constexpr char hex[] = "0123456789abcdef";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += hex[(c >> 4) & 0xf];
          out += hex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// The fields List and Get both give a volume, in the JSON library's key order: CreatedAt and
// Mountpoint when set, then Name.
void append_names(std::string& out, const volume_info& info) {
  if (!info.created_at.empty()) {
    out += "\"CreatedAt\":";
    append_string(out, info.created_at);
    out += ',';
  }
  if (!info.mountpoint.empty()) {
    out += "\"Mountpoint\":";
    append_string(out, info.mountpoint);
    out += ',';
  }
  out += "\"Name\":";
  append_string(out, info.name);
}

// List's answer, rendered by hand: at 100,000 volumes a tree of JSON values would cost more
// than everything else a List does. The same text the JSON library makes (keys in order).
std::string render_entries(const std::vector<read_view::entry_ptr>& listed) {
  std::string out;
  out.reserve(32 + listed.size() * 96);
  out += "{\"Err\":\"\",\"Volumes\":[";
  bool first = true;
  for (auto& e : listed) {
    auto& info = e->info;
    out += first ? "{" : ",{";
    first = false;
    append_names(out, info);
    out += '}';
  }
  out += "]}";
  return out;
}

// A listing is rendered once: the same listing again (nothing changed) is the same text.
std::string render_list(const view_listing& listed) {
  if (!listed)
    return render_entries({});
  std::call_once(listed->rendered_once,
                 [&] { listed->rendered = render_entries(listed->entries); });
  return listed->rendered;
}

// A volume as Get answers it: keys in the JSON library's order (byte order), Status's
// entries with "Mounts" in its place among them (it wins over an entry of that name).
void append_info(std::string& out, const volume_info& info) {
  out += '{';
  append_names(out, info);
  out += ",\"Status\":{";
  static const std::string mounts_key = "Mounts";
  bool first = true;
  bool mounts_done = false;
  auto mounts = [&] {
    out += first ? "\"Mounts\":" : ",\"Mounts\":";
    out += std::to_string(info.mounts);
    first = false;
    mounts_done = true;
  };
  for (auto& [k, v] : info.status) {
    if (!mounts_done && k >= mounts_key)
      mounts();
    if (k == mounts_key)
      continue;
    if (!first)
      out += ',';
    first = false;
    append_string(out, k);
    out += ':';
    append_string(out, v);
  }
  if (!mounts_done)
    mounts();
  out += "}}";
}

} // namespace

caf::expected<api_request> parse_request(endpoint ep, std::string_view body) {
  api_request req;
  req.ep = ep;
  bool needs_name = ep != endpoint::activate && ep != endpoint::capabilities
                    && ep != endpoint::list;
  bool blank = body.find_first_not_of(" \t\r\n") == std::string_view::npos;
  if (blank) {
    if (needs_name)
      return bad("empty body: expected a JSON object with \"Name\"");
    return req;
  }
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded())
    return bad("body is not valid JSON");
  if (!needs_name)
    return req;
  if (!j.is_object())
    return bad("body must be a JSON object");
  if (auto err = read_string(j, "Name", req.name))
    return err;
  if (ep == endpoint::mount || ep == endpoint::unmount)
    if (auto err = read_string(j, "ID", req.id, req.name))
      return err;
  if (ep == endpoint::create) {
    auto i = j.find("Opts");
    if (i != j.end() && !i->is_null()) {
      if (!i->is_object())
        return bad("field \"Opts\" must be an object or null", req.name);
      for (auto& [k, v] : i->items()) {
        if (!v.is_string())
          return bad("option \"" + k + "\" must be a string", req.name);
        req.opts[k] = v.get<std::string>();
      }
    }
  }
  return req;
}

caf::expected<api_request> decode_request(std::string_view method, std::string_view target,
                                          std::string_view body) {
  auto ep = route(target);
  if (!ep)
    return make_error(ec::unknown_endpoint, {}, std::string(target));
  if (method != "POST")
    return bad("method must be POST");
  return parse_request(*ep, body);
}

unsigned status_of(const caf::error& err) {
  switch (code_of(err)) {
    case ec::bad_request:
      return 400;
    case ec::unknown_endpoint:
      return 404;
    case ec::body_too_large:
      return 413;
    case ec::headers_too_large:
      return 431;
    case ec::none:
      return 200;
    default:
      return 500;
  }
}

// Answers are rendered by hand, like List's: the text the JSON library makes (the tests
// compare), without building a tree of JSON values for each Get.
answer render_error(const caf::error& err) {
  std::string out = "{\"Err\":";
  append_string(out, render(err));
  out += '}';
  return {status_of(err), std::move(out)};
}

answer render_reply(endpoint ep, const api_reply& reply) {
  if (reply.error)
    return render_error(reply.error);
  std::string out;
  switch (ep) {
    case endpoint::activate:
      return {200, R"({"Implements":["VolumeDriver"]})"};
    case endpoint::capabilities:
      out = "{\"Capabilities\":{\"Scope\":";
      append_string(out, reply.scope);
      out += "}}";
      return {200, std::move(out)};
    case endpoint::get:
      out.reserve(192);
      out = "{\"Err\":\"\",\"Volume\":";
      append_info(out, reply.volume);
      out += '}';
      return {200, std::move(out)};
    case endpoint::list:
      return {200, render_list(reply.volumes)};
    case endpoint::mount:
    case endpoint::path:
      out = "{\"Err\":\"\",\"Mountpoint\":";
      append_string(out, reply.mountpoint);
      out += '}';
      return {200, std::move(out)};
    case endpoint::create:
    case endpoint::unmount:
    case endpoint::remove:
      break;
  }
  return {200, R"({"Err":""})"};
}

} // namespace actorvol::net
