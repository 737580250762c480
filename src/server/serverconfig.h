#pragma once

#include "accesscontrol.h"
#include "connectionguard.h"

#include "core/mergeengine.h"
#include "core/summarylimits.h"
#include "store/store.h"
#include "store/storeurl.h"

#include <QHostAddress>
#include <QString>

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
};

} // namespace agmem
