// The store's schema as an ordered list of migrations, and the marks that identify a flakebisect
// store.
//
// A store file carries PRAGMA application_id = kApplicationId (set by the first migration) and
// PRAGMA user_version = the number of migrations applied. Opening a store applies the missing
// migrations in order, each in its own BEGIN IMMEDIATE transaction that also bumps user_version, so
// a crash leaves the file at a whole version. A store whose user_version is above kSchemaVersion
// was written by a newer flakebisect and is refused, never downgraded.
//
// Migrations are append-only: a released step is never edited; a change is a new step.
//
// Thread rules: constants only.
#pragma once

#include <cstdint>
#include <span>

namespace flakebisect::store {

// "FlkB" in ASCII: the SQLite header field that says "this file is a flakebisect store".
inline constexpr int32_t kApplicationId = 0x466C6B42;

struct Migration {
  int version;      // user_version after this step
  const char* sql;  // one or more statements, no parameters
};

// All migrations, version 1 first.
std::span<const Migration> migrations();

// The schema version this build writes: the last migration's version.
int schema_version();

}  // namespace flakebisect::store
