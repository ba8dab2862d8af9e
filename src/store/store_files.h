// StoreFiles: the files of a store on disk (the database file and SQLite's -wal and -shm next to
// it) and what this user may do with them.
//
// Why this exists: SQLite creates -wal and -shm with the database file's mode, and gives an empty
// one that mode again each time it opens it. So reading a store the user made read-only (0444)
// leaves 0444 -wal and -shm behind, and once the store is writable again every write fails with
// SQLite's "attempt to write a readonly database". The store repairs the modes of the side files
// it owns (repair_side_file_modes) and, when a write is refused all the same, names the file and
// its mode (why_not_writable) instead.
//
// Access is judged with the effective user and group ids (the ones open() uses). Root may write
// anything, so none of this changes what root sees.
//
// Thread rules: free functions on the file system, safe from any thread.
#pragma once

#include <array>
#include <optional>
#include <string>

#include "base/result.h"

namespace flakebisect::store {

// "<db_path>-wal" and "<db_path>-shm", in that order.
std::array<std::string, 2> side_file_paths(const std::string& db_path);

// The directory that holds `db_path` ("." for a bare file name).
std::string store_directory(const std::string& db_path);

// Whether this user may write `path` (for a directory: create files in it). False if it does not
// exist.
bool may_write(const std::string& path);

// Whether `path` exists (lstat; a dangling link counts).
bool file_exists(const std::string& path);

// Gives the owner read and write permission (mode | 0600) on each of the store's -wal and -shm that
// is a regular file this user owns and lacks them. Files of other users are left alone (opening
// refuses them). Best effort: where chmod fails (a read-only file system) reading still works, and
// a write says which file is in the way (why_not_writable).
void repair_side_file_modes(const std::string& db_path);

// Why this user cannot write the store, from a look at its files, or nullopt if they show no
// reason:
//   "this user cannot write s.db (mode 0444; chmod u+w s.db to change the store)"
//   "this user cannot write s.db-shm (mode 0444, owner uid 1000)"
//   "this user cannot create s.db-wal in dir (mode 0555)"
std::optional<std::string> why_not_writable(const std::string& db_path);

// Whether `path` is on a file system mounted read-only (where no mode helps).
bool on_read_only_file_system(const std::string& path);

}  // namespace flakebisect::store
