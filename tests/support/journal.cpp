#include "support/journal.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <fstream>
#include <functional>
#include <stdexcept>

namespace actorvol::test {

namespace {

// ROOT's journal, opened with `flags`; throws what went wrong.
sqlite3* open_journal(const std::string& root, int flags) {
  auto path = root + "/state/.journal.sqlite";
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string why = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    throw std::runtime_error("cannot open " + path + ": " + why);
  }
  sqlite3_busy_timeout(db, 10000);
  return db;
}

// Runs one statement `sql` that changes ROOT's journal, its parameters bound by `bind`;
// returns how many rows it changed, or throws what went wrong (`what`: "write to", ...).
int change_journal(const std::string& root, const char* sql, const char* what,
                   const std::function<void(sqlite3_stmt*)>& bind) {
  auto* db = open_journal(root, SQLITE_OPEN_READWRITE);
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, nullptr);
  if (rc == SQLITE_OK) {
    bind(st);
    rc = sqlite3_step(st);
  }
  int changed = rc == SQLITE_DONE ? sqlite3_changes(db) : 0;
  std::string why = rc == SQLITE_DONE ? "" : sqlite3_errmsg(db);
  sqlite3_finalize(st);
  sqlite3_close_v2(db);
  if (!why.empty())
    throw std::runtime_error(std::string("cannot ") + what + " the journal of " + root + ": "
                             + why);
  return changed;
}

} // namespace

std::map<std::string, std::string> stored_records(const std::string& root) {
  auto* db = open_journal(root, SQLITE_OPEN_READONLY);
  sqlite3_stmt* rows = nullptr;
  std::map<std::string, std::string> out;
  int rc = sqlite3_prepare_v2(db, "SELECT name, record FROM volumes", -1, &rows, nullptr);
  while (rc == SQLITE_OK && (rc = sqlite3_step(rows)) == SQLITE_ROW) {
    auto* blob = static_cast<const char*>(sqlite3_column_blob(rows, 1));
    out[reinterpret_cast<const char*>(sqlite3_column_text(rows, 0))] =
      std::string(blob != nullptr ? blob : "", static_cast<size_t>(sqlite3_column_bytes(rows, 1)));
    rc = SQLITE_OK;
  }
  std::string why = rc == SQLITE_DONE ? "" : sqlite3_errmsg(db);
  sqlite3_finalize(rows);
  sqlite3_close_v2(db);
  if (!why.empty())
    throw std::runtime_error("cannot read the journal of " + root + ": " + why);
  return out;
}

bool erase_stored_record(const std::string& root, const std::string& name) {
  return change_journal(root, "DELETE FROM volumes WHERE name = ?1", "erase from",
                        [&](sqlite3_stmt* st) {
                          sqlite3_bind_text(st, 1, name.c_str(), -1, SQLITE_TRANSIENT);
                        })
         > 0;
}

void put_stored_records(const std::string& root,
                        const std::map<std::string, std::string>& records) {
  auto* db = open_journal(root, SQLITE_OPEN_READWRITE);
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO volumes(name, record) VALUES(?1, ?2)",
                            -1, &st, nullptr);
  for (auto i = records.begin(); rc == SQLITE_OK && i != records.end(); ++i) {
    sqlite3_bind_text(st, 1, i->first.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 2, i->second.data(), static_cast<int>(i->second.size()),
                      SQLITE_TRANSIENT);
    rc = sqlite3_step(st) == SQLITE_DONE ? sqlite3_reset(st) : SQLITE_ERROR;
  }
  if (rc == SQLITE_OK)
    rc = sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  std::string why = rc == SQLITE_OK ? "" : sqlite3_errmsg(db);
  sqlite3_finalize(st);
  sqlite3_close_v2(db);
  if (!why.empty())
    throw std::runtime_error("cannot write to the journal of " + root + ": " + why);
}

void put_stored_record(const std::string& root, const std::string& name, const std::string& text) {
  put_stored_records(root, {{name, text}});
}

void damage_last_page_of_records(const std::string& root) {
  // The WAL is folded into the file when the last connection closes: the page is there.
  auto* db = open_journal(root, SQLITE_OPEN_READONLY);
  sqlite3_stmt* st = nullptr;
  int64_t page = -1, size = 0;
  if (sqlite3_prepare_v2(db,
                         "SELECT pageno, (SELECT page_size FROM pragma_page_size) FROM dbstat "
                         "WHERE name = 'volumes' AND pagetype = 'leaf' ORDER BY path DESC LIMIT 1",
                         -1, &st, nullptr)
        == SQLITE_OK
      && sqlite3_step(st) == SQLITE_ROW) {
    page = sqlite3_column_int64(st, 0);
    size = sqlite3_column_int64(st, 1);
  }
  std::string why = page > 0 ? "" : sqlite3_errmsg(db);
  sqlite3_finalize(st);
  sqlite3_close_v2(db);
  if (!why.empty())
    throw std::runtime_error("cannot find the pages of the journal of " + root + ": " + why);
  std::fstream f(root + "/state/.journal.sqlite", std::ios::in | std::ios::out | std::ios::binary);
  f.seekp((page - 1) * size);
  f << std::string(static_cast<size_t>(size), '\xff');
  if (!f.flush())
    throw std::runtime_error("cannot damage the journal of " + root);
}

} // namespace actorvol::test
