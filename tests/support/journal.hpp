#pragma once

// Reads and edits a root's state journal (ROOT/state/.journal.sqlite) the way a test needs to:
// what is stored, byte for byte, and a record taken out behind the plugin's back (as a crash
// at the right moment would leave it). The plugin may run while records are read; it must
// not while one is erased.

#include <map>
#include <string>

namespace actorvol::test {

/// Every record in ROOT's journal: name -> the stored text.
std::map<std::string, std::string> stored_records(const std::string& root);

/// Deletes NAME's record from ROOT's journal; false if there was none.
bool erase_stored_record(const std::string& root, const std::string& name);

/// Stores `text` as NAME's record in ROOT's journal, as it is (e.g. an unreadable record, or
/// one an older release wrote); the plugin must not run.
void put_stored_record(const std::string& root, const std::string& name, const std::string& text);

/// Stores every NAME -> text of `records` in ROOT's journal in one transaction; the plugin
/// must not run.
void put_stored_records(const std::string& root,
                        const std::map<std::string, std::string>& records);

/// Overwrites the last page of the volumes table, in the order a full scan reads it, with
/// garbage: the journal opens, and reading it fails part-way. The plugin must not run.
void damage_last_page_of_records(const std::string& root);

} // namespace actorvol::test
