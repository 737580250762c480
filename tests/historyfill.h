#pragma once

// Filling a store directly, without a server: pushes committed the way
// CoordinatorApi::flushPushes does (plan, record, apply, state), in one transaction.

#include "core/mergeengine.h"
#include "core/summary.h"
#include "store/store.h"

#include <QList>
#include <QString>

namespace agmem::test {

struct StoredPush
{
    Summary summary;
    Instant receivedAt = 0;
    QString source = QStringLiteral("127.0.0.1");
};

// The engine must hold the store's current merged view (a fresh engine for a fresh store).
inline bool commitPushes(Store &store, MergeEngine &engine, const QList<StoredPush> &pushes)
{
    quint64 sequence = engine.sequence();
    if (!store.beginWrite())
        return false;
    qint64 added = 0;
    for (const StoredPush &p : pushes) {
        const MergeEngine::Plan plan = engine.plan(p.summary);
        if (plan.overflows()) {
            store.rollback();
            return false;
        }
        const quint64 next = plan.changesMerge() ? sequence + 1 : sequence;
        if (!store.recordPush(p.summary, p.receivedAt, p.source, plan.next, next)) {
            store.rollback();
            return false;
        }
        engine.apply(p.summary.agentId, plan.next, p.receivedAt, next);
        sequence = next;
        ++added;
    }
    if (!store.writeState(sequence, added) || !store.commit()) {
        store.rollback();
        return false;
    }
    engine.setSequence(sequence);
    return true;
}

} // namespace agmem::test
