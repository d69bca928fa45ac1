#pragma once
// Level 2 drills of the database engines that start a server (docs/DRILLS.md), one file each; run_drill calls them
// inside the drill's scratch directory, which stops what they started and removes everything when they return or throw.
#include "io/pipeline.hpp"
#include "platform/drill/drill.hpp"
#include "platform/drill/drill_util.hpp"
#include "repo/manifest.hpp"

namespace strata {

class DrillScratch;

// Whether the engine can drill this backup at level 2; empty, or why not (refused before anything is written).
std::string postgres_drill_refusal(const Manifest& m);

// PostgreSQL base backups: restore into the scratch directory, recover to the consistent point, start as an
// unprivileged user on a private socket (no TCP, no replication, no archiving), pg_amcheck --heapallindexed, the
// fingerprint, a clean stop and pg_checksums --check when the cluster has checksums.
void drill_postgres(Repository& repo, const Manifest& m, const DrillRequest& req, DrillScratch& scratch,
                    const ProgressFn& progress, const drill::Deadline& deadline, DrillRecord& rec);

std::string mysql_drill_refusal(const Manifest& m);

// MariaDB physical backups: restore (prepare the chain) into the scratch directory, start mariadbd as run_as with
// no networking, a private socket and --tmpdir, grant tables skipped (no credentials exist for it), no replica
// threads, no events; mariadb-check --all-databases, the fingerprint, stop.
void drill_mysql(Repository& repo, const Manifest& m, const DrillRequest& req, DrillScratch& scratch,
                 const ProgressFn& progress, const drill::Deadline& deadline, DrillRecord& rec);

}  // namespace strata
