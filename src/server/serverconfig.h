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

// The listen address as --host, the settings and the window accept it: an IP address,
// "localhost", or 0.0.0.0 / * / any for every interface.
inline bool parseListenAddress(const QString &text, QHostAddress *address)
{
    const QString host = text.trimmed();
    if (host == u"localhost") {
        *address = QHostAddress::LocalHost;
        return true;
    }
    if (host == u"0.0.0.0" || host == u"*" || host == u"any") {
        *address = QHostAddress::Any;
        return true;
    }
    return address->setAddress(host);
}

// How the listen address is shown and saved (every interface as 0.0.0.0).
inline QString listenAddressText(const QHostAddress &address)
{
    if (address == QHostAddress::Any || address == QHostAddress::AnyIPv4)
        return QStringLiteral("0.0.0.0");
    return address.toString();
}

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
    // Commits run in a writer thread of their own, so the HTTP thread parses and answers
    // while a batch is fsynced; false (--no-writer-thread): in the HTTP thread, as each
    // pass of its event loop ends. Either way every write goes through one
    // CoordinatorWriter. Measured (bench/RESULTS.md): the thread gives more pushes/s on a
    // quiet machine and costs 5-20% more CPU per push; on a 2-core machine saturated by
    // other work the hand-over cost more than it gained.
    bool writerThread = true;
    // Retention (0: off). History older than this many days, and beyond the newest N
    // pushes per agent, is pruned in the background; agents silent for agentExpiryDays are
    // dropped from the merge (as DELETE /agents/{id}).
    int historyRetentionDays = 0;
    int historyMaxPerAgent = 0;
    int agentExpiryDays = 0;
    // How often the retention pass runs, and how many rows one batch deletes.
    int retentionIntervalMs = 60000;
    int retentionBatch = 500;
    // GET /events: streams open at most (each also counts as a connection), the interval of
    // its heartbeat comments, and how many recent events Last-Event-ID can resume from.
    int maxEventStreams = 128;
    int eventHeartbeatMs = 15000;
    int eventRingSize = 4096;
    // The clock of retention and expiry; empty: nowInstant(). Tests inject their own.
    std::function<Instant()> clock;
    // Tests: runs first in each GET /facts?q= search, on the thread the search runs on.
    std::function<void()> beforeFactSearch;
};

} // namespace agmem
