#include "support/journal.hpp"

#include <sqlite3.h>

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

void put_stored_record(const std::string& root, const std::string& name, const std::string& text) {
  change_journal(root, "INSERT OR REPLACE INTO volumes(name, record) VALUES(?1, ?2)", "write to",
                 [&](sqlite3_stmt* st) {
                   sqlite3_bind_text(st, 1, name.c_str(), -1, SQLITE_TRANSIENT);
                   sqlite3_bind_blob(st, 2, text.data(), static_cast<int>(text.size()),
                                     SQLITE_TRANSIENT);
                 });
}

} // namespace actorvol::test
