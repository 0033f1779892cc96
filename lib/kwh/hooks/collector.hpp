#pragma once
// The collector of event hooks: finds what happened since it last looked and makes one delivery
// (a hook_deliveries row, with the JSON the program will read) for each, for the kinds that
// have a program in [hooks]. It runs in the caller's transaction, so a delivery and the cursor
// that passed its source row are written together: a crash loses neither, and UNIQUE (kind,
// source_id) keeps a row that is looked at twice from making two.
//
// Sources (docs/contract.md "Hooks"):
//  - events, by id: alarm1 and alarm2 -> low_balance; arrears; meter_offline; implausible ->
//    reading_held (billing writes one event per crossing, not per reading);
//  - ledger, by id: sale -> payment; emergency with a positive amount -> emergency_credit;
//  - commands done (relay_off, relay_on): from the oldest command not yet over, since one
//    finishes long after it was queued; only those finished since hooks were configured;
//  - cutoff_warning: a relay_off for arrears held back by friendly hours or days (not_before
//    after its creation) that is still pending within [hooks] warn_before of its time; one per
//    command.
//
// The cursors live in settings. When there are none (hooks configured for the first time),
// they start at what is there now: years of old events are not sent.

#include <kwh/config/config.hpp>
#include <kwh/util/time.hpp>

namespace kwh::storage {
class Database;
}

namespace kwh::hooks {

// Makes the deliveries of what is new; returns how many. Caller's transaction.
int collect(storage::Database& db, const config::Config& cfg, UnixTime now);

// Hooks are no longer configured: the cursors go, so that configuring them again starts then
// rather than sending everything in between. Caller's transaction.
void forget_cursors(storage::Database& db);

} // namespace kwh::hooks
