#!/usr/bin/env bash
# One-screen health of the platform: both APIs, the collector (lag per symbol), the event
# indexer (lag in blocks) and the database. Exit 1 when anything is down or too far behind.
#
#   monitoring/quick_check.sh
#   COLLECTOR_MAX_LAG=120 INDEXER_MAX_LAG=10 monitoring/quick_check.sh
set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

begin_report "Linkora quick check"
section "services"
check_services
section "database"
check_database || true
verdict "quick_check"
