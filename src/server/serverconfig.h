#pragma once

#include "accesscontrol.h"
#include "connectionguard.h"

#include "core/mergeengine.h"
#include "core/summarylimits.h"
#include "store/store.h"
#include "store/storeurl.h"

#include <QHostAddress>
#include <QString>

#include <functional>

namespace agmem {

struct ServerConfig
{
    QHostAddress host = QHostAddress::LocalHost;
    quint16 port = 8000;
    StoreUrl store = StoreUrl::defaultLocation();
    StoreOptions storeOptions;
    MergeMode mergeMode = MergeMode::Latest;
    SummaryLimits limits;
    // limits.maxBodyBytes applies here too (set when the server starts).
    ConnectionLimits connection;
    AccessConfig access;
    // PEM files; both set: HTTPS only (a failure to load them stops the start).
    QString tlsCertificate;
    QString tlsKey;
    bool accessLog = true;
    // Pushes that arrive in one pass of the event loop are committed together (group
    // commit); a batch never grows beyond this many.
    int maxBatch = 256;
    // Retention (0: off). History older than this many days, and beyond the newest N
    // pushes per agent, is pruned in the background; agents silent for agentExpiryDays are
    // dropped from the merge (as DELETE /agents/{id}).
    int historyRetentionDays = 0;
    int historyMaxPerAgent = 0;
    int agentExpiryDays = 0;
    // How often the retention pass runs, and how many rows one batch deletes.
    int retentionIntervalMs = 60000;
    int retentionBatch = 500;
    // The clock of retention and expiry; empty: nowInstant(). Tests inject their own.
    std::function<Instant()> clock;
};

} // namespace agmem
