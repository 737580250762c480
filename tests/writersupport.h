#pragma once

// Filling a store directly, without a server: pushes committed by the server's own write
// path (store/coordinatorwriter.h) over a store and merged view the test keeps.

#include "core/mergeengine.h"
#include "core/summary.h"
#include "store/coordinatorwriter.h"
#include "store/store.h"

#include <QList>
#include <QString>

#include <algorithm>

namespace agmem::test {

struct StoredPush
{
    Summary summary;
    Instant receivedAt = 0;
    QString source = QStringLiteral("127.0.0.1");
};

// The engine must hold the store's current merged view (a fresh engine for a fresh store);
// afterwards it holds the view after the pushes. True when every push was stored.
inline bool commitPushes(Store &store, MergeEngine &engine, const QList<StoredPush> &pushes)
{
    QList<PushRequest> requests;
    for (const StoredPush &p : pushes)
        requests.append({p.summary, p.receivedAt, p.source});
    CoordinatorWriter writer(store, std::move(engine));
    const QList<PushOutcome> outcomes = writer.commitPushes(requests);
    engine = writer.engine();
    return std::all_of(outcomes.cbegin(), outcomes.cend(),
                       [](const PushOutcome &o) { return o.stored(); });
}

} // namespace agmem::test
