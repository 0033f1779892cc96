#pragma once
// Commissioning a site from a sheet: `kwh gateway import`, `kwh meter import` and `kwh account
// import` read a CSV file (csv.hpp) whose header names its columns after the options of
// `gateway add`, `meter add` and `account open`, and add, skip or update one object a row.
//
// One transaction per file: every row is checked against the database as it stands with the
// rows before it applied (each row in a savepoint of its own), and a file with any bad row is
// rejected whole, nothing written, with every bad row's line and reason. A row equal to what
// is stored is skipped, so that an import can run again; a row that differs is a bad row
// unless `update` is set, when it changes the object with the rules of `meter set` (meters),
// of `gateway add` (gateways) and of `account open`, `attach` and `detach` (accounts). A
// column the file does not have is neither compared nor changed; an empty cell means "none"
// (or the default of add/open). What `gateway list`, `meter list` and `account list` print
// with --format csv imports unchanged: their display columns are read-only and ignored
// (read_only_columns() below), and a row of a retired gateway or a closed account is skipped.
//
// The import room depends downward only: site, billing, ledger, storage, crypto, util.

#include <kwh/billing/payment.hpp>
#include <kwh/config/config.hpp>
#include <kwh/util/time.hpp>

#include <functional>
#include <string>
#include <vector>

namespace kwh::storage {
class Database;
}

namespace kwh::import {

enum class Kind { gateways, meters, accounts };
const char* kind_name(Kind k); // "gateways", "meters", "accounts"

// A file read whole: its bytes, the name messages use, and its SHA-256 (for the audit entry).
struct Sheet {
  std::string name; // the path as given, or "<stdin>"
  std::string text;
  std::string sha256; // lower-case hex
};

// Reads FILE, or standard input for "-". Error(no_input) when it cannot be read; Error(data)
// for a spreadsheet that is not CSV (.xlsx, .xls, .ods by name or by their first bytes): kwh
// reads CSV only, and says to save the sheet as CSV.
Sheet read_sheet(const std::string& path);
Sheet sheet_from_text(std::string text, std::string name);

enum class Action { add, update, skip };
const char* action_name(Action a); // "add", "update", "skip"

struct RowDone {
  int line = 0;
  std::string id;
  Action action = Action::skip;
  std::string detail; // what was added, what changed, or why it was skipped
};

struct RowError {
  int line = 0;
  std::string reason;
};

struct Options {
  bool dry_run = false; // check everything, write nothing
  bool update = false;  // rows that differ change what is stored
  bool receipts = false; // accounts: give each opening balance a receipt number
  std::string operator_name;
  UnixTime now = 0; // 0: now()
};

struct Result {
  Kind kind = Kind::meters;
  std::string file, sha256;
  std::vector<RowDone> rows;     // the good rows, in file order
  std::vector<RowError> errors;  // every bad row (line 1: the header), in line order
  int added = 0, updated = 0, skipped = 0;
  bool written = false; // committed
  // Accounts: the opening balances posted, for their receipts.
  std::vector<billing::PaymentResult> openings;

  bool ok() const { return errors.empty(); }
};

// Imports a sheet in one transaction (BEGIN IMMEDIATE). With errors, or with dry_run, it is
// rolled back and nothing is written; else `also` runs inside it just before COMMIT (the CLI's
// audit entry, so that the import and its entry commit together). Bad rows are in the result,
// not thrown; what is thrown is what stops the whole import (the database busy or failing).
Result run(storage::Database& db, const config::Config& config, Kind kind, const Sheet& sheet, const Options& options,
           const std::function<void(const Result&)>& also = {});

// The columns a kind's file may have: those it reads, and the read-only columns of the list
// output that it ignores. For the man pages, the help and the tests.
std::vector<std::string> columns(Kind kind);
std::vector<std::string> read_only_columns(Kind kind);

} // namespace kwh::import
