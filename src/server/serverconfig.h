#pragma once

#include "core/limits.h"
#include "core/mergeengine.h"
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
    bool accessLog = true;
    // Pushes that arrive in one pass of the event loop are committed together (group
    // commit); a batch never grows beyond this many.
    int maxBatch = 256;
};

} // namespace agmem
